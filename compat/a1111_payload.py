"""AUTOMATIC1111's txt2img payload, read as A1111 reads it, into the studio's job fields.

Clients post the whole of A1111's request model, about 50 fields (`webuiapi` sends them all, at its defaults).
Each field is one of:
- mapped onto the job: prompt, negative_prompt, seed (-1: random), steps, cfg_scale, width, height, batch_size x
  n_iter images (image i has seed + i, as A1111's all_seeds), sampler_name (or the older sampler_index),
  override_settings.sd_model_checkpoint; one left out takes the model's default, not A1111's; a model that draws
  in one pass (the GAN) has no sampler, and the sampler_name every A1111 client sends is not used;
- a feature the studio lacks (hires fix, styles, variation seeds, face restoration, tiling, scripts, a refiner,
  sampler noise settings): accepted at the value that leaves it off, else a 400 naming it;
- bookkeeping or settings of a feature that is off (hr_* while enable_hr is false, saving options): accepted as
  they come.
A field A1111 does not have is a 400 too: a misspelt field must not fall back to a default unnoticed.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from compat.selectors import model_version_by_client_name
from prompts.services import SEED_MAX

MAX_IMAGES = 4  # NUM_IMAGES_RANGE's upper end: batch_size x n_iter

MAPPED = {
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "cfg_scale",
    "width",
    "height",
    "batch_size",
    "n_iter",
    "sampler_name",
    "sampler_index",
    "scheduler",
    "override_settings",
    "eta",
    "send_images",
}
# a feature the studio lacks, and the values that leave it off
OFF = {
    "enable_hr": (False, None),
    "styles": ([], None),
    "subseed_strength": (0, None),
    "seed_resize_from_h": (0, -1, None),
    "seed_resize_from_w": (0, -1, None),
    "restore_faces": (False, None),
    "tiling": (False, None),
    "script_name": (None, "", "None"),
    "alwayson_scripts": ({}, None),
    "refiner_checkpoint": (None, "", "None"),
    "refiner_switch_at": (None, 0, 1),
    "s_churn": (0, None),
    "s_tmin": (0, None),
    "s_tmax": (0, None, math.inf),
    "s_noise": (1, None),
    "s_min_uncond": (0, None),
    "disable_extra_networks": (False, None),
    "firstpass_image": (None, ""),
    "infotext": (None, ""),
}
OFF_NAMES = {
    "enable_hr": "hires fix",
    "styles": "styles",
    "subseed_strength": "variation seeds",
    "restore_faces": "face restoration",
    "tiling": "tiling",
    "script_name": "scripts",
    "alwayson_scripts": "scripts",
    "refiner_checkpoint": "a refiner",
    "infotext": "infotext overrides",
}
IGNORED = {
    "subseed",  # only read with subseed_strength > 0
    "denoising_strength",  # hires fix's and img2img's
    "firstphase_width",
    "firstphase_height",
    "hr_scale",
    "hr_upscaler",
    "hr_second_pass_steps",
    "hr_resize_x",
    "hr_resize_y",
    "hr_checkpoint_name",
    "hr_sampler_name",
    "hr_scheduler",
    "hr_prompt",
    "hr_negative_prompt",
    "hr_cfg",
    "hr_distilled_cfg",
    "hr_additional_modules",
    "script_args",  # a script's, and there is none
    "do_not_save_samples",  # every image goes to the caller's gallery
    "do_not_save_grid",
    "save_images",
    "override_settings_restore_afterwards",  # the settings apply to this request only anyway
    "comments",
    "force_task_id",
    "distilled_cfg_scale",
}
# override_settings that hold their A1111 defaults change nothing and are accepted
OVERRIDES_AT_DEFAULT = {"CLIP_stop_at_last_layers": 1, "eta_noise_seed_delta": 0}
SCHEDULERS = ("automatic",)


@dataclass
class Txt2ImgRequest:
    job: dict  # generation_job_submit's keyword arguments, bar the user
    send_images: bool
    seed: int
    echo: dict = field(default_factory=dict)  # A1111's `parameters`: the request as understood


def _number(payload: dict, name: str, errors: dict, kind=int):
    value = payload.get(name)
    if value is None:
        return None
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not integral):
        errors[name] = "must be an integer" if kind is int else "must be a number"
        return None
    return kind(value)


def read_txt2img(payload, *, default_checkpoint) -> Txt2ImgRequest:
    """The job a txt2img payload asks for, or a ValidationError naming every field that is wrong."""
    if not isinstance(payload, dict):
        raise ValidationError({"non_field_errors": "the body must be a JSON object"})
    errors: dict[str, str] = {}
    known = MAPPED | set(OFF) | IGNORED
    for name in sorted(set(payload) - known):
        errors[name] = "A1111's txt2img has no such field"
    for name, allowed in OFF.items():
        if name in payload and not _off(payload[name], allowed):
            feature = OFF_NAMES.get(name, name)
            errors[name] = f"the studio has no {feature}; leave {name} at {allowed[0]!r}"

    prompt = payload.get("prompt", "")
    if not isinstance(prompt, str) or not prompt.strip():
        errors["prompt"] = "a prompt is required"
    negative = payload.get("negative_prompt") or ""
    if not isinstance(negative, str):
        errors["negative_prompt"] = "must be a string"
    seed = _number(payload, "seed", errors)
    if seed is not None and not (seed == -1 or 0 <= seed <= SEED_MAX):
        errors["seed"] = f"must be -1 (random) or 0 to {SEED_MAX}"
    steps, width, height = (_number(payload, name, errors) for name in ("steps", "width", "height"))
    cfg_scale = _number(payload, "cfg_scale", errors, kind=float)
    batch_size = _number(payload, "batch_size", errors) or 1
    n_iter = _number(payload, "n_iter", errors) or 1
    if batch_size < 1 or n_iter < 1 or batch_size * n_iter > MAX_IMAGES:
        errors["batch_size"] = f"batch_size x n_iter must be 1 to {MAX_IMAGES} images"

    sampler = payload.get("sampler_name") or payload.get("sampler_index") or None
    if sampler is not None and not isinstance(sampler, str):
        errors["sampler_name"] = "must be a string"
    scheduler = payload.get("scheduler")
    if scheduler not in (None, "", *SCHEDULERS):
        errors["scheduler"] = (
            f"the studio's samplers use their own schedules: scheduler must be {', '.join(SCHEDULERS)}"
        )
    eta = _number(payload, "eta", errors, kind=float)
    if eta is not None and sampler == "Euler a" and eta != 1:
        errors["eta"] = "Euler a runs with eta 1"
    if eta is not None and sampler == "DDIM" and eta != 0:
        errors["eta"] = "DDIM runs with eta 0 (deterministic)"

    version = default_checkpoint
    overrides = payload.get("override_settings") or {}
    if not isinstance(overrides, dict):
        errors["override_settings"] = "must be an object"
        overrides = {}
    for name, value in overrides.items():
        if name == "sd_model_checkpoint":
            version = model_version_by_client_name(str(value))
            if version is None:
                errors["override_settings"] = f"unknown checkpoint {value!r} (GET /sdapi/v1/sd-models lists them)"
        elif OVERRIDES_AT_DEFAULT.get(name, object()) != value:
            errors["override_settings"] = f"the studio takes only sd_model_checkpoint here, not {name}"
    if errors:
        raise ValidationError(errors)
    if version is None:
        raise ValidationError({"override_settings": "no model is available yet"})
    if sampler is not None and not version.samplers:
        sampler = None  # a one-pass model (the GAN): A1111 clients always name one, and there is nothing to pick

    seed = secrets.randbelow(SEED_MAX) if seed in (None, -1) else seed
    job = {
        "text": prompt,
        "negative_prompt": negative,
        "seed": seed,
        "steps": steps,
        "guidance": cfg_scale,
        "width": width,
        "height": height,
        "num_images": batch_size * n_iter,
        "model": version.version_name,
        "sampler": sampler,
    }
    echo = {name: payload.get(name) for name in sorted(known) if name in payload}
    echo.update(seed=seed, batch_size=batch_size, n_iter=n_iter)
    return Txt2ImgRequest(job=job, send_images=payload.get("send_images", True) is not False, seed=seed, echo=echo)


def _off(value, allowed) -> bool:
    """Whether `value` leaves the feature off: equal to an allowed value, and a boolean only where one is allowed
    (False == 0 in Python, but `"restore_faces": 0` is not what a client means)."""
    for choice in allowed:
        if isinstance(value, bool) != isinstance(choice, bool):
            continue
        if value == choice:
            return True
    return False
