"""Prompt writes: validate every parameter against the chosen model version, then store the prompt.

Bad input raises a ValidationError keyed by the API's field name; nothing is silently corrected.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction

from modelops.models import ModelVersion
from modelops.selectors import model_version_current, model_version_get
from prompts.models import PROMPT_MAX_LENGTH, TextPrompt

STEPS_RANGE = (1, 100)
GUIDANCE_RANGE = (0.0, 20.0)
NUM_IMAGES_RANGE = (1, 4)
SEED_MAX = 2**31 - 1


def _check_range(errors: dict, field: str, value, low, high) -> None:
    if not low <= value <= high:
        errors[field] = f"must be between {low} and {high}"


def model_version_for_request(*, model: str | None) -> ModelVersion:
    version = model_version_get(version_name=model) if model else model_version_current()
    if version is None:
        raise ValidationError({"model": f"unknown model {model!r}" if model else "no model version is available yet"})
    return version


def _sampler_for(version: ModelVersion, sampler: str | None, errors: dict) -> str:
    """The model's default sampler when none is named; a name the model does not offer is an error listing those
    it does (a one-pass model, the GAN, offers none)."""
    if sampler is None or sampler == "":
        return version.samplers[0] if version.samplers else ""
    if sampler not in version.samplers:
        offered = ", ".join(version.samplers)
        errors["sampler"] = (
            f"{version.version_name} offers {offered}"
            if offered
            else f"{version.version_name} draws in one pass: it has no sampler"
        )
    return sampler


@transaction.atomic
def text_prompt_create(
    *,
    user,
    text: str,
    negative_prompt: str = "",
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    width: int | None = None,
    height: int | None = None,
    num_images: int = 1,
    model: str | None = None,
    sampler: str | None = None,
) -> TextPrompt:
    version = model_version_for_request(model=model)
    default_width, default_height = version.supported_sizes[0]
    width = default_width if width is None else width
    height = default_height if height is None else height
    steps = version.default_steps if steps is None else steps
    guidance = version.default_guidance if guidance is None else guidance
    seed = secrets.randbelow(SEED_MAX) if seed is None else seed

    errors: dict[str, str] = {}
    text = (text or "").strip()
    if not 1 <= len(text) <= PROMPT_MAX_LENGTH:
        errors["prompt"] = f"must be 1 to {PROMPT_MAX_LENGTH} characters"
    if len(negative_prompt or "") > PROMPT_MAX_LENGTH:
        errors["negative_prompt"] = f"must be at most {PROMPT_MAX_LENGTH} characters"
    _check_range(errors, "steps", steps, *STEPS_RANGE)
    _check_range(errors, "guidance", guidance, *GUIDANCE_RANGE)
    _check_range(errors, "num_images", num_images, *NUM_IMAGES_RANGE)
    _check_range(errors, "seed", seed, 0, SEED_MAX)
    sampler = _sampler_for(version, sampler, errors)
    if not version.supports(width, height):
        message = f"{version.version_name} makes {version.sizes_label} images"
        wrong = [
            name
            for name, index, value in (("width", 0, width), ("height", 1, height))
            if value not in {size[index] for size in version.supported_sizes}
        ]
        errors.update({name: message for name in wrong or ["width", "height"]})
    if errors:
        raise ValidationError(errors)

    return TextPrompt.objects.create(
        user=user,
        text_content=text,
        negative_prompt=(negative_prompt or "").strip(),
        seed=seed,
        steps=steps,
        guidance=guidance,
        width=width,
        height=height,
        num_images=num_images,
        sampler=sampler,
        model_version=version,
    )
