"""DiffusersTextToImage: a local Stable Diffusion folder (SD 1.x/2.x, SD-Turbo, SDXL, SDXL-Turbo: a diffusers
`StableDiffusionPipeline` or `StableDiffusionXLPipeline` saved with safetensors) behind the product's pipeline
interface (base.py), so a designer's own model runs in the studio like the bundled ones.

- Samplers: AUTOMATIC1111's names (ml_engine/samplers.py). `samplers[0]` is the default: the folder's own
  scheduler when it is one of them (SD-Turbo ships Euler), else DPM++ 2M (SD 1.5 ships PNDM, which A1111 does not
  offer). Each sampler's scheduler is built once over the folder's noise schedule and set as the pipeline's
  scheduler for the call that names it (a worker runs one call at a time).
- Sizes: the native size (UNet sample_size x VAE scale factor: 512 for SD 1.5, 768 for SD 2, 1024 for SDXL) first,
  then 4:3, 3:4, 3:2, 2:3, 16:9 and 9:16 (width:height) at about the same pixel count, each side a multiple of
  64 (8 x the VAE scale factor, so the UNet's three halvings of the latents come out whole), as (height, width)
  like every pipeline's `supported_sizes`; a ratio that no such size comes within 10% of (a small native size) is
  left out. Any other size is a ValueError naming the supported ones.
- Defaults: 20 steps and guidance 7.5, unless the folder's `studio.json` says otherwise
  ({"default_steps": 1, "default_guidance": 0.0} for SD-Turbo; `manage.py register_model --steps --guidance`
  writes it).
- Precision: on CUDA the weights load as float16 unless a dtype is given; on the CPU, float32.
- Attention: with `return_attention=True`, one AttentionMaps per image: DAAM (ml_engine.attention.daam) over the
  UNet's cross-attention layers, the conditional half of the batch under classifier-free guidance, the words as
  the (first) CLIP tokenizer splits them; the pixels are the same either way. Maps are at the image's aspect, at
  most 128 pixels a side.
- Previews: SD-family latents are 4-channel; a step's preview maps them to RGB with the widely used linear
  latent-to-RGB approximation (no VAE decode per step).

Only safetensors weights are loaded, only from the folder (`local_files_only`): nothing is unpickled or downloaded.

    pipe = DiffusersTextToImage.from_folder("/models/sd-turbo", device="cuda")
    pipe("a lighthouse at dusk", seed=0, sampler="Euler a", height=512, width=512).images[0].save("out.png")
"""

from __future__ import annotations

import json
import math
import os
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ml_engine import samplers
from ml_engine.attention.daam import SECOND_HALF, CrossAttentionRecorder, recording
from ml_engine.pipelines.base import (
    GenerationResult,
    StepCallback,
    StepInfo,
    check_generation_args,
    image_seeds,
    prompt_list,
)

# the diffusers classes this adapter drives (their __call__ takes prompt, negative_prompt, guidance, generators and
# a step callback, and their UNet cross-attends to CLIP token states)
PIPELINE_CLASSES = ("StableDiffusionPipeline", "StableDiffusionXLPipeline")
DEFAULT_SAMPLER = "DPM++ 2M"
DEFAULT_STEPS, DEFAULT_GUIDANCE = 20, 7.5
STUDIO_FILE = "studio.json"  # the studio's defaults for a folder: {"default_steps", "default_guidance"}
ASPECT_RATIOS = ((1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (16, 9), (9, 16))  # width : height
MAX_MAP_SIDE = 128  # attention maps are smooth: a larger map only costs storage

# SD 1.x/2.x latent channels -> RGB, a least-squares fit popularised by the community (e.g. ComfyUI's previewer)
_LATENT_RGB = torch.tensor(
    [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]]
)


def latent_preview(latents: torch.Tensor, image: int = 0) -> Image.Image | None:
    if latents.shape[1] != 4:
        return None
    rgb = torch.einsum("chw,cr->hwr", latents[image].float().cpu(), _LATENT_RGB)
    array = ((rgb + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(np.ascontiguousarray(array))


def native_size(pipe) -> int:
    """The pixel size the pipeline's denoiser was built for (SD 1.5: 512, SDXL: 1024)."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    sample = getattr(getattr(denoiser, "config", None), "sample_size", None) or getattr(pipe, "default_sample_size", 64)
    return int(sample) * int(getattr(pipe, "vae_scale_factor", 8) or 8)


def aspect_sizes(native: int, multiple: int) -> tuple[tuple[int, int], ...]:
    """(height, width) for each of ASPECT_RATIOS at about native x native pixels, sides multiples of `multiple`:
    the size nearest the ratio and the pixel count together (log errors summed); 1024 gives SDXL's usual
    1152x896, 1344x768, ... Ratios no size comes within 10% of are left out; the square comes first."""
    area, sides = native * native, range(multiple, 2 * native + multiple, multiple)
    sizes: list[tuple[int, int]] = []
    for w_part, h_part in ASPECT_RATIOS:
        ratio = w_part / h_part

        def error(size, ratio=ratio):
            off_ratio = abs(math.log(size[0] / size[1] / ratio))
            return off_ratio + abs(math.log(size[0] * size[1] / area)), off_ratio

        width, height = min(((w, h) for w in sides for h in sides), key=error)
        if abs(width / height / ratio - 1) <= 0.1 and (height, width) not in sizes:
            sizes.append((height, width))
    return tuple(sizes)


def read_studio_defaults(folder: str | os.PathLike) -> dict:
    """The folder's studio.json ({} without one), checked: only default_steps (1..1000) and default_guidance
    (0..50), as the pipelines' own arguments allow."""
    path = Path(folder) / STUDIO_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    unknown = set(data) - {"default_steps", "default_guidance"} if isinstance(data, dict) else {"(not an object)"}
    if unknown:
        raise ValueError(
            f"{path}: unknown keys {', '.join(sorted(unknown))} (it holds default_steps, default_guidance)"
        )
    defaults = {"default_steps": int(data.get("default_steps", DEFAULT_STEPS))}
    defaults["default_guidance"] = float(data.get("default_guidance", DEFAULT_GUIDANCE))
    check_generation_args(defaults["default_steps"], defaults["default_guidance"], 1)
    return {key: defaults[key] for key in data}


def write_studio_defaults(
    folder: str | os.PathLike, *, default_steps: int | None = None, default_guidance: float | None = None
) -> Path:
    """Record the steps and/or the guidance a request gets when it names none; a value not given keeps what the
    file said (or the built-in default)."""
    data = read_studio_defaults(folder)
    if default_steps is not None:
        data["default_steps"] = int(default_steps)
    if default_guidance is not None:
        data["default_guidance"] = float(default_guidance)
    check_generation_args(data.get("default_steps", DEFAULT_STEPS), data.get("default_guidance", DEFAULT_GUIDANCE), 1)
    path = Path(folder) / STUDIO_FILE
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def attention_map_size(height: int, width: int) -> tuple[int, int]:
    """The image's size halved until its longer side is at most MAX_MAP_SIDE (sides stay whole: multiples of 64)."""
    factor = 1
    while max(height, width) > MAX_MAP_SIDE * factor:
        factor *= 2
    return height // factor, width // factor


class DiffusersTextToImage:
    """A diffusers Stable Diffusion pipeline (`pipe`) behind the product's interface; see the module docstring."""

    def __init__(
        self, pipe, model_name: str, *, default_steps: int = DEFAULT_STEPS, default_guidance: float = DEFAULT_GUIDANCE
    ):
        kind = type(pipe).__name__
        if kind not in PIPELINE_CLASSES:
            raise ValueError(f"{kind} is not a pipeline the studio runs ({', '.join(PIPELINE_CLASSES)})")
        check_generation_args(default_steps, default_guidance, 1)
        self.pipe = pipe
        self.model_name = model_name
        self.default_steps, self.default_guidance = int(default_steps), float(default_guidance)
        self.supported_sizes = aspect_sizes(native_size(pipe), 8 * int(pipe.vae_scale_factor))
        self._own_scheduler = pipe.scheduler  # the folder's, with its own options; the pipeline's changes per call
        self._sampler_schedulers: dict[str, object] = {}

    @classmethod
    def from_folder(
        cls, folder: str | os.PathLike, device: str = "cpu", dtype: torch.dtype | None = None
    ) -> DiffusersTextToImage:
        from diffusers import DiffusionPipeline

        folder = Path(folder)
        if dtype is None:  # half the memory and several times the speed on a GPU; a CPU has no fast float16
            dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
        defaults = read_studio_defaults(folder)
        pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True, dtype=dtype)
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe, folder.name, **defaults)

    @property
    def device(self) -> torch.device:
        return self.pipe.device

    @property
    def samplers(self) -> tuple[str, ...]:
        """The samplers a call may name, the default first: the folder's own when A1111 has a name for it."""
        own = samplers.own_sampler(self._own_scheduler)
        first = own if own in samplers.SAMPLER_NAMES else DEFAULT_SAMPLER
        return (first, *(name for name in samplers.SAMPLER_NAMES if name != first))

    @property
    def sampler_name(self) -> str:
        return self.samplers[0]

    def scheduler_for(self, sampler: str | None):
        """The scheduler that runs `sampler` (None: the default) over the folder's noise schedule, built once."""
        sampler = self.samplers[0] if sampler is None else sampler
        samplers.check_sampler(sampler, self.samplers)
        if sampler == samplers.own_sampler(self._own_scheduler):
            return self._own_scheduler
        if sampler not in self._sampler_schedulers:
            self._sampler_schedulers[sampler] = samplers.sampler_scheduler(sampler, self._own_scheduler.config)
        return self._sampler_schedulers[sampler]

    @property
    def makes_attention_maps(self) -> bool:
        """Whether `return_attention` can be asked for: a UNet with cross-attention layers and a tokenizer."""
        unet = getattr(self.pipe, "unet", None)
        processors = getattr(unet, "attn_processors", {})
        has_cross = any(name.endswith("attn2.processor") for name in processors)
        return has_cross and getattr(self.pipe, "tokenizer", None) is not None

    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        seed: int | None = None,
        num_images_per_prompt: int = 1,
        callback_on_step_end: StepCallback | None = None,
        height: int | None = None,
        width: int | None = None,
        return_attention: bool = False,
        sampler: str | None = None,
    ) -> GenerationResult:
        height = self.supported_sizes[0][0] if height is None else height
        width = self.supported_sizes[0][1] if width is None else width
        prompts = prompt_list(prompt, height, width, self.supported_sizes)
        num_inference_steps = self.default_steps if num_inference_steps is None else num_inference_steps
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        check_generation_args(num_inference_steps, guidance_scale, num_images_per_prompt)
        if return_attention and not self.makes_attention_maps:
            raise ValueError(f"{self.model_name} has no cross-attention to the prompt's words to draw maps from")
        scheduler = self.scheduler_for(sampler)
        expanded = [p for p in prompts for _ in range(num_images_per_prompt)]  # the pipeline's order of images
        seeds = image_seeds(generator, seed, len(expanded))
        if generator is None:  # noise drawn on the CPU: the same seed, the same image on any device
            generator = [torch.Generator("cpu").manual_seed(s) for s in seeds]

        def on_step_end(pipe, step, timestep, callback_kwargs):
            if callback_on_step_end is not None:
                latents = callback_kwargs["latents"]
                preview = lambda i: latent_preview(latents, i)  # noqa: E731
                callback_on_step_end(StepInfo(step + 1, pipe.num_timesteps, int(timestep), preview))
            return callback_kwargs

        recorder = None
        if return_attention:
            # the pipeline batches [negative, prompt] under guidance (as it decides it): record the prompts' half
            guided = guidance_scale > 1 and self.pipe.unet.config.time_cond_proj_dim is None
            latent_size = (height // self.pipe.vae_scale_factor, width // self.pipe.vae_scale_factor)
            recorder = CrossAttentionRecorder(SECOND_HALF if guided else slice(None), latent_size)
        self.pipe.scheduler = scheduler
        with recording(self.pipe.unet, recorder) if recorder is not None else nullcontext():
            out = self.pipe(
                prompt=prompts,
                negative_prompt=negative_prompt,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                generator=generator,
                num_images_per_prompt=num_images_per_prompt,
                height=height,
                width=width,
                callback_on_step_end=on_step_end,
                callback_on_step_end_tensor_inputs=["latents"],
            )
        attention = None
        if recorder is not None:
            if self.pipe.do_classifier_free_guidance != guided:
                raise RuntimeError("the pipeline decided guidance differently: its attention rows are unknown")
            tokenizer = self.pipe.tokenizer
            size = attention_map_size(height, width)
            attention = recorder.word_maps(tokenizer, expanded, tokenizer.model_max_length, size)
        return GenerationResult(list(out.images), seeds, expanded, attention)
