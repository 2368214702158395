"""The interface every text-to-image pipeline offers the rest of the product.

    result = pipe(prompt, negative_prompt=None, num_inference_steps=20, guidance_scale=4.0,
                  seed=7, num_images_per_prompt=1, callback_on_step_end=on_step)
    result.images  # PIL images;  result.seeds  # the seed of each image

`callback_on_step_end(StepInfo)` runs after every denoising step; `info.preview()` decodes the
current x0 prediction into a small PIL image only when asked (cheap for the Shapes model). A
callback may raise `GenerationCancelled` to stop the run. Image i of a call with seed s uses seed
s + i, so any single image can be reproduced on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ml_engine.attention.maps import AttentionMaps


class GenerationCancelled(Exception):
    """Raised by a step callback to abandon a generation."""


@dataclass
class StepInfo:
    step: int  # 1-based number of the step just finished
    total: int
    timestep: int
    _preview: Callable[[], Image.Image | None] | None = field(default=None, repr=False)

    def preview(self) -> Image.Image | None:
        return self._preview() if self._preview else None


@dataclass
class GenerationResult:
    images: list[Image.Image]
    seeds: list[int]
    prompts: list[str]
    # per image, when the call asked for return_attention=True: what each prompt word attended to
    attention: list[AttentionMaps] | None = None


StepCallback = Callable[[StepInfo], None]


def check_generation_args(num_inference_steps: int, guidance_scale: float, num_images_per_prompt: int) -> None:
    """Clear errors on bad input instead of silent correction."""
    if not 1 <= int(num_inference_steps) <= 1000:
        raise ValueError(f"num_inference_steps must be between 1 and 1000, got {num_inference_steps}")
    if not 0 <= float(guidance_scale) <= 50:
        raise ValueError(f"guidance_scale must be between 0 and 50, got {guidance_scale}")
    if int(num_images_per_prompt) < 1:
        raise ValueError(f"num_images_per_prompt must be at least 1, got {num_images_per_prompt}")


def prompt_list(prompt: str | list[str], height: int, width: int, supported_sizes) -> list[str]:
    """The prompt as a list; clear errors for an empty prompt or a size the model does not make."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts:
        raise ValueError("prompt must not be empty")
    if (height, width) not in supported_sizes:
        sizes = ", ".join(f"{h}x{w}" for h, w in supported_sizes)
        raise ValueError(f"this model makes {sizes} images; got height={height}, width={width}")
    return prompts


def image_seeds(generator, seed: int | None, count: int) -> list[int]:
    """The seed of each image: the caller's generators' seeds, else `seed`, `seed` + 1, ... (random without one)."""
    if generator is None:
        return seeds_for(seed, count)
    return [g.initial_seed() for g in generator] if isinstance(generator, list) else [generator.initial_seed()]


def candidate_seed(seed: int, index: int) -> int:
    """The noise seed of an image's `index`-th ranked candidate: the image's own seed first."""
    return seed if index == 0 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def seeds_for(seed: int | None, count: int) -> list[int]:
    import random

    base = seed if seed is not None else random.SystemRandom().randrange(2**31)
    return [(base + i) % 2**63 for i in range(count)]
