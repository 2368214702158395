"""Template helpers for reusing a picture's settings and for saying what a job or an image is, in plain words.

`use_settings_query` is the create page's prefill contract (generation.views.PREFILL_KEYS): prompt,
negative_prompt, seed, steps, guidance, size ("WxH"), num_images, model (a version name) and sampler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import template
from django.utils.http import urlencode

from generation.batching import batch_room
from generation.models import GeneratedImage
from prompts.models import TextPrompt

register = template.Library()


@register.filter
def use_settings_query(item: TextPrompt | GeneratedImage) -> str:
    """The create page's querystring for the same picture: a prompt gives its whole job (its seed, its number of
    images); an image gives itself alone (its own seed, one image)."""
    if isinstance(item, GeneratedImage):
        prompt, seed, num_images = item.prompt, item.seed, 1
        width, height, version = item.width, item.height, item.model_version
    elif isinstance(item, TextPrompt):
        prompt, seed, num_images = item, item.seed, item.num_images
        width, height, version = item.width, item.height, item.model_version
    else:
        raise TypeError(f"use_settings_query takes a TextPrompt or a GeneratedImage, not {type(item).__name__}")
    return urlencode(
        {
            "prompt": prompt.text_content,
            "negative_prompt": prompt.negative_prompt,
            "seed": seed,
            "steps": prompt.steps,
            "guidance": f"{prompt.guidance:g}",
            "size": f"{width}x{height}",
            "num_images": num_images,
            "model": version.version_name,
            "sampler": prompt.sampler,
        }
    )


# ml_engine.pipelines.shapes.ShapesPipeline.sampler_name: "UniPC, best of 10 ranked by a critic, pruned 2@1,1@4
# (keep@step), in bf16 until then" (the pruning stages are keep@after_step, ml_engine.pipelines.pruning)
_RANKED = re.compile(
    r"^(?P<name>[^,]+), best of (?P<candidates>\d+) ranked by a critic"
    r"(?:, pruned (?P<stages>\d+@\d+(?:,\d+@\d+)*) \(keep@step\))?(?P<bf16>, in bf16 until then)?$"
)


@register.filter
def sampler_words(image: GeneratedImage) -> str:
    """The sampler an image was made with, for people: "UniPC · best of 10 candidates, ranked by a critic, the best
    kept from step 4 · bfloat16 until then". The PNG's infotext keeps the model's own label (A1111 clients read it).
    """
    label = image.model_version.sampler_name
    chosen = image.prompt.sampler  # a sampler named for the job, in place of the model's own
    match = _RANKED.match(label)
    if match is None:
        return chosen or label
    parts = [chosen or match["name"], f"best of {match['candidates']} candidates, ranked by a critic"]
    if match["stages"]:
        kept = []
        for stage in match["stages"].split(","):
            keep, step = stage.split("@")
            kept.append(f"the best {keep} kept from step {step}" if keep != "1" else f"the best kept from step {step}")
        parts[1] += ", " + ", ".join(kept)
    if match["bf16"]:
        parts.append("bfloat16 until then")
    return " · ".join(parts)


@dataclass(frozen=True)
class ImagesAtStep:
    """Which of a job's images a step is drawing (first..last, 1-based, of `count`) and the step within them."""

    first: int
    last: int
    count: int
    step: int
    steps: int

    def __str__(self) -> str:
        at = f"step {self.step} of {self.steps}"
        if self.count == 1:
            return at
        which = f"image {self.first}" if self.first == self.last else f"images {self.first}-{self.last}"
        return f"{which} of {self.count}, {at}"


def images_at_step(*, step: int, steps: int, count: int, per_call: int) -> ImagesAtStep:
    """A job's progress counts image-steps (generation.progress.CallMember.step_of): a call drawing r of its images
    at once moves it r a step. Its images are drawn in order, `per_call` at most a call (generation.batching: a job
    that fits shares one call; a larger one is split, and shares with no other), so the step says which call."""
    first = 0
    while True:
        rows = min(per_call, count - first)
        if step <= (first + rows) * steps or first + rows >= count:
            within = max(0, min(steps, round((step - first * steps) / rows)))
            return ImagesAtStep(first=first + 1, last=first + rows, count=count, step=within, steps=steps)
        first += rows


@register.filter
def progress_words(job) -> str:
    """ "images 1-2 of 2, step 6 of 8" for a running job."""
    prompt = job.prompt
    return str(images_at_step(step=job.step, steps=prompt.steps, count=prompt.num_images, per_call=batch_room()))
