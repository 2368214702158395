"""The create page's form: a prompt and its generation settings.

It checks types only; ranges and model support are the job service's to judge.
"""

from django import forms

from generation.models import Visibility

# service error keys -> form fields (width and height are one "size" choice on the page)
SERVICE_FIELDS = {"prompt": "prompt", "width": "size", "height": "size"}


class JobCreateForm(forms.Form):
    prompt = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "a red circle to the left of a blue square", "autofocus": True}
        ),
    )
    negative_prompt = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "what to avoid (optional)"})
    )
    steps = forms.IntegerField(initial=20)
    guidance = forms.FloatField(initial=4.0, label="Guidance (CFG)")
    seed = forms.IntegerField(required=False, widget=forms.NumberInput(attrs={"placeholder": "random"}))
    num_images = forms.TypedChoiceField(choices=[(n, n) for n in range(1, 5)], coerce=int, initial=1, label="Images")
    size = forms.ChoiceField(choices=[])
    model = forms.ChoiceField(choices=[], required=False)  # "" = the champion at the time the job runs
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        versions = list(versions)
        current = next((v for v in versions if v.is_current), None)
        champion = [("", f"Champion ({current.version_name})")] if current is not None else []
        self.fields["model"].choices = champion + [(v.version_name, v.version_name) for v in versions]
        sizes = sorted({f"{w}x{h}" for v in versions for w, h in v.supported_sizes})
        self.fields["size"].choices = [(s, s) for s in sizes]
        current = next((v for v in versions if v.is_current), versions[0] if versions else None)
        if current is not None:
            self.fields["model"].initial = "" if champion else current.version_name
            self.fields["steps"].initial = current.default_steps
            self.fields["guidance"].initial = current.default_guidance
            self.fields["size"].initial = "{}x{}".format(*current.supported_sizes[0])

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        width, height = (int(part) for part in data["size"].split("x"))
        return {
            "text": data["prompt"],
            "negative_prompt": data["negative_prompt"],
            "seed": data["seed"],
            "steps": data["steps"],
            "guidance": data["guidance"],
            "width": width,
            "height": height,
            "num_images": data["num_images"],
            "model": data["model"] or None,
            "visibility": data["visibility"],
        }

    def add_service_errors(self, error) -> None:
        for key, messages in error.message_dict.items():
            field = SERVICE_FIELDS.get(key, key)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
