"""Run any diffusers text-to-image pipeline (SD 1.5, SD-Turbo, SDXL, ...) from a local folder
through the product's pipeline interface (see base.py).

Previews: SD-family latents are 4-channel; the preview maps them to RGB with the widely used
linear latent-to-RGB approximation (no VAE decode per step), which costs nothing on a GPU or CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ml_engine.pipelines.base import GenerationResult, StepCallback, StepInfo, check_generation_args, image_seeds

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


class DiffusersTextToImage:
    sampler_name = "diffusers default"

    def __init__(self, pipe, model_name: str):
        self.pipe = pipe
        self.model_name = model_name
        self.supported_sizes = ((native_size(pipe),) * 2,)
        self.default_steps = 20
        self.default_guidance = 7.5

    @classmethod
    def from_folder(cls, folder: Path, device: str = "cpu", dtype: torch.dtype | None = None) -> DiffusersTextToImage:
        from diffusers import DiffusionPipeline

        kwargs = {"local_files_only": True, "use_safetensors": True}
        if dtype is not None:
            kwargs["torch_dtype"] = dtype
        pipe = DiffusionPipeline.from_pretrained(folder, **kwargs).to(device)
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe, Path(folder).name)

    @property
    def device(self) -> torch.device:
        return self.pipe.device

    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = 20,
        guidance_scale: float = 7.5,
        generator: torch.Generator | list[torch.Generator] | None = None,
        seed: int | None = None,
        num_images_per_prompt: int = 1,
        callback_on_step_end: StepCallback | None = None,
        height: int | None = None,
        width: int | None = None,
    ) -> GenerationResult:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        check_generation_args(num_inference_steps, guidance_scale, num_images_per_prompt)
        seeds = image_seeds(generator, seed, len(prompts) * num_images_per_prompt)
        if generator is None:
            generator = [torch.Generator("cpu").manual_seed(s) for s in seeds]

        def on_step_end(pipe, step, timestep, callback_kwargs):
            if callback_on_step_end is not None:
                latents = callback_kwargs["latents"]
                total = len(pipe.scheduler.timesteps)
                preview = lambda i: latent_preview(latents, i)  # noqa: E731
                callback_on_step_end(StepInfo(step + 1, total, int(timestep), preview))
            return callback_kwargs

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
        expanded = [p for p in prompts for _ in range(num_images_per_prompt)]
        return GenerationResult(list(out.images), seeds, expanded)
