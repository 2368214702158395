"""The create page's form: a prompt and its generation settings.

It checks types only; ranges and model support are the job service's to judge. Each model in the menu carries its
defaults, sizes, samplers and known words as data attributes, so the page (static/js/create.js) sets them when the
model changes and names unknown words while someone types.
"""

import json

from django import forms

from generation.models import Visibility
from ml_engine.data.vocabulary import vocabulary_words
from prompts.services import GUIDANCE_RANGE, SEED_MAX, STEPS_RANGE

# service error keys -> form fields (width and height are one "size" choice on the page)
SERVICE_FIELDS = {"prompt": "prompt", "width": "size", "height": "size"}


def model_menu_label(version) -> str:
    return f"{version.version_name} (champion)" if version.is_current else version.version_name


def model_data_attrs(version) -> dict[str, str]:
    """What the page needs to follow a change of model without asking the server."""
    return {
        "data-steps": str(version.default_steps),
        "data-guidance": f"{version.default_guidance:g}",
        "data-sizes": json.dumps([f"{w}x{h}" for w, h in version.supported_sizes]),
        "data-samplers": json.dumps(version.samplers),
        "data-words": json.dumps(sorted(vocabulary_words(version.vocabulary or {}))),
    }


class ModelSelect(forms.Select):
    """A model menu whose options carry each model's defaults (`model_data_attrs`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.option_attrs: dict[str, dict[str, str]] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"].update(self.option_attrs.get(str(value), {}))
        return option


class JobCreateForm(forms.Form):
    prompt = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "a red circle to the left of a blue square",
                "autofocus": True,
                "aria-describedby": "prompt-hint",
            }
        ),
    )
    negative_prompt = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "what to avoid (optional)"})
    )
    model = forms.ChoiceField(choices=[], required=False, widget=ModelSelect)  # "": the champion when the job runs
    # min and max are hints for the browser; the prompt service judges the ranges, with one message for every client
    steps = forms.IntegerField(
        initial=20,
        widget=forms.NumberInput(attrs={"min": STEPS_RANGE[0], "max": STEPS_RANGE[1]}),
        help_text=f"{STEPS_RANGE[0]}-{STEPS_RANGE[1]}: more steps, more detail, more time",
    )
    guidance = forms.FloatField(
        initial=4.0,
        label="Guidance (CFG)",
        widget=forms.NumberInput(attrs={"min": GUIDANCE_RANGE[0], "max": GUIDANCE_RANGE[1], "step": "0.5"}),
        help_text=f"{GUIDANCE_RANGE[0]:g}-{GUIDANCE_RANGE[1]:g}: how closely it follows the prompt",
    )
    sampler = forms.ChoiceField(choices=[], required=False)  # "": the model's own
    size = forms.ChoiceField(choices=[])
    num_images = forms.TypedChoiceField(choices=[(n, n) for n in range(1, 5)], coerce=int, initial=1, label="Images")
    seed = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "random", "min": 0, "max": SEED_MAX}),
        help_text="the same seed and settings give the same picture",
    )
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    # the unknown words someone was told about and chose to keep (the page asks once, then generates)
    confirmed_words = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        versions = list(versions)
        current = next((v for v in versions if v.is_current), None)
        # one entry per model: the champion is "" (a job that names none follows the champion alias), the others
        # by name; a link may still name the champion's version (an image made with it), and it means that entry
        self.menu_value = {v.version_name: ("" if v is current else v.version_name) for v in versions}
        menu = [(self.menu_value[v.version_name], v) for v in sorted(versions, key=lambda v: v is not current)]
        self.fields["model"].choices = [(value, model_menu_label(v)) for value, v in menu]
        self.fields["model"].widget.option_attrs = {value: model_data_attrs(v) for value, v in menu}
        sizes = sorted({f"{w}x{h}" for v in versions for w, h in v.supported_sizes})
        self.fields["size"].choices = [(s, s) for s in sizes]
        samplers = list(dict.fromkeys(name for v in versions for name in v.samplers))
        self.fields["sampler"].choices = [("", "the model's own")] + [(name, name) for name in samplers]
        if "model" in self.initial:
            self.initial["model"] = self.menu_value.get(self.initial["model"], self.initial["model"])
        by_value = dict(menu)
        chosen_value = self.initial.get("model", menu[0][0] if menu else "")
        chosen = by_value.get(chosen_value) or (menu[0][1] if menu else None)
        if chosen is not None:  # the chosen model's own defaults, unless a link says otherwise
            self.fields["model"].initial = chosen_value if chosen_value in by_value else menu[0][0]
            self.fields["steps"].initial = chosen.default_steps
            self.fields["guidance"].initial = chosen.default_guidance
            self.fields["size"].initial = "{}x{}".format(*chosen.supported_sizes[0])

    def full_clean(self):
        # a link may name the champion's version by name: it is the menu's "" entry
        if self.is_bound and "model" in self.data:
            data = self.data.copy()
            data["model"] = self.menu_value.get(data["model"], data["model"])
            self.data = data
        super().full_clean()

    @property
    def confirmed(self) -> set[str]:
        return {word for word in self.cleaned_data.get("confirmed_words", "").split() if word}

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
            "sampler": data["sampler"] or None,
            "visibility": data["visibility"],
        }

    def add_service_errors(self, error) -> None:
        for key, messages in error.message_dict.items():
            field = SERVICE_FIELDS.get(key, key)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
