"""Prompt reads."""

from django.db.models import QuerySet

from ml_engine.data.vocabulary import unknown_words
from modelops.models import ModelVersion
from prompts.models import TextPrompt


def text_prompt_recent_for_user(*, user, limit: int = 8) -> QuerySet[TextPrompt]:
    return TextPrompt.objects.filter(user=user).select_related("model_version")[:limit]


def prompt_unknown_words(*, text: str, version: ModelVersion) -> list[str]:
    """The words of `text` the model never read in a caption (none for a model with an open vocabulary)."""
    return unknown_words(text, version.vocabulary or {})


def prompt_warnings(*, text: str, negative_prompt: str = "", version: ModelVersion) -> list[str]:
    """What to tell someone before they wait for a picture: the words the model will not draw, named."""
    warnings = []
    for field, words in (
        ("prompt", prompt_unknown_words(text=text, version=version)),
        ("negative prompt", prompt_unknown_words(text=negative_prompt, version=version)),
    ):
        if words:
            listed = ", ".join(f"“{word}”" for word in words)
            warnings.append(
                f"{version.version_name} does not know {listed} in the {field}: it learned only the shapes, colours, "
                "sizes, counts and positions of its prompt guide, so those words will not change what it draws."
            )
    return warnings
