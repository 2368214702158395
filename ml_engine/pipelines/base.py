"""The interface every text-to-image pipeline offers the rest of the product.

    result = pipe(prompt, negative_prompt=None, num_inference_steps=20, guidance_scale=4.0,
                  seed=7, num_images_per_prompt=1, callback_on_step_end=on_step)
    result.images  # PIL images;  result.seeds  # the seed of each image

`callback_on_step_end(StepInfo)` runs after every denoising step; `info.preview(image=i)` decodes image i's
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
    _preview: Callable[[int], Image.Image | None] | None = field(default=None, repr=False)

    def preview(self, image: int = 0) -> Image.Image | None:
        """Image `image` of the call as it stands (its kept candidate, or its first while several remain)."""
        return self._preview(image) if self._preview else None


@dataclass
class GenerationResult:
    images: list[Image.Image]
    seeds: list[int]
    prompts: list[str]
    # per image, when the call asked for return_attention=True: what each prompt word attended to
    attention: list[AttentionMaps] | None = None


StepCallback = Callable[[StepInfo], None]

PROBE_PROMPT = "a red circle to the left of a blue square"


class PrecisionMixin:
    """A pipeline whose hot path may run under bfloat16 autocast: `precision` says whether it does (float32 until
    a loader sets it, ml_engine.precision chooses); `has_bfloat16_path` says whether there is anything to choose."""

    precision: str = "float32"
    precision_choice = None  # the PrecisionChoice that set `precision`, when a loader made one

    @property
    def has_bfloat16_path(self) -> bool:
        return False

    @property
    def runs_bfloat16(self) -> bool:
        return self.precision == "bfloat16" and self.has_bfloat16_path

    def precision_set(self, requested: str = "auto", *, model_key: str = "") -> None:
        """Run in `requested`, or with "auto" in whichever of float32 and bfloat16 is faster here (measured)."""
        from ml_engine.precision import choose_precision

        probe = self._precision_probe if self.has_bfloat16_path else None
        device = str(next(iter(self.components_with_parameters())).device) if self.has_bfloat16_path else "cpu"
        self.precision_choice = choose_precision(probe, requested=requested, model_key=model_key, device=device)
        self.precision = self.precision_choice.precision

    def components_with_parameters(self):
        return (p for module in self.components.values() if hasattr(module, "parameters") for p in module.parameters())

    def _precision_probe(self, precision: str) -> None:
        """One image at the model's defaults, in `precision`: what a worker's request costs."""
        saved, self.precision = self.precision, precision
        try:
            self(PROBE_PROMPT, seed=0, return_attention=True)
        finally:
            self.precision = saved


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
    if (height, width) not in supported_sizes:  # (height, width) pairs, written width x height as the studio shows
        sizes = ", ".join(f"{w}x{h}" for h, w in supported_sizes)
        raise ValueError(f"this model makes {sizes} (width x height) images; got width={width}, height={height}")
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
