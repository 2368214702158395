"""The model page's form: register a model folder on the server as a new version (modelops.services checks it)."""

from django import forms


class ModelFolderForm(forms.Form):
    folder = forms.CharField(
        max_length=500,
        label="Folder",
        help_text="absolute path on the server of a diffusers folder (model_index.json, safetensors weights)",
        widget=forms.TextInput(attrs={"placeholder": "/models/sd-turbo"}),
    )
    version_name = forms.CharField(max_length=100, label="Name", help_text="what requests and pages call it")
    default_steps = forms.IntegerField(required=False, label="Default steps", help_text="empty: the folder's own")
    default_guidance = forms.FloatField(required=False, label="Default guidance", help_text="SD-Turbo: 1 step, 0")
