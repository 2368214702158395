"""Scenes as the diffusion model redraws them: labelled latents that look generated, for the critic.

A critic trained only on the encoder's latents of clean renders did not transfer to the diffusion model's
latents (docs/shapes-model.md). Here each scene's latent is noised to the sampler's step
`start_step` and denoised from there by the model, without a caption (SDEdit, Meng et al., 2022). The model
fixes the layout in its first steps, which this skips, so the objects stay where the scene graph puts them and
the graph still labels the result. But every cell of the latent now comes from the model. Latents are cached
under <cache>/pools, keyed by the source pool, the model's UNet weights and the settings.
"""

from __future__ import annotations

import hashlib
import os

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ml_engine.config import CACHE_ROOT
from ml_engine.training.data import ScenePool

CHUNK = 256


def _weights_digest(model: str) -> str:
    digest = hashlib.sha256()
    with open(os.path.join(model, "unet", "diffusion_pytorch_model.safetensors"), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


@torch.no_grad()
def redraw(pipe, latents: torch.Tensor, start_step: int, seed: int) -> torch.Tensor:
    """`latents` noised to the sampler's step `start_step` of its default count and denoised unconditionally."""
    scheduler = pipe.scheduler
    scheduler.set_timesteps(pipe.default_steps)
    timesteps = scheduler.timesteps[start_step:]
    alpha_bar = scheduler.alphas_cumprod[timesteps[0]]
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(seed))
    x = alpha_bar.sqrt() * latents + (1 - alpha_bar).sqrt() * noise
    states, mask = pipe.encode_prompts([""] * len(latents))
    scheduler.set_begin_index(start_step * scheduler.order)
    for t in timesteps:
        out = pipe.predict(x.to(pipe.unet.dtype), t, states, mask)
        x = scheduler.step(out, t, x).prev_sample
    return x.float()


def redrawn_pool(pool: ScenePool, model: str, size: int, start_step: int, seed: int, key: str) -> ScenePool:
    """The first `size` scenes of `pool` (named `key` in the cache), as the diffusion model at `model` redraws them."""
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    size = min(size, len(pool))
    path = os.path.join(
        CACHE_ROOT, "pools", f"redrawn-{key}-{_weights_digest(model)}-{size}-{start_step}-{seed}.safetensors"
    )
    scenes = pool.scenes[:size]
    if os.path.isfile(path):
        return ScenePool(scenes, load_file(path)["latents"], pool.planned[:size])
    pipe = ShapesDiffusionPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    chunks = range(0, size, CHUNK)
    redrawn = torch.cat(
        [redraw(pipe, pool.latents[i : i + CHUNK], start_step, seed + i) for i in tqdm(chunks, desc="redrawing scenes")]
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({"latents": redrawn}, path)
    return ScenePool(scenes, redrawn, pool.planned[:size])
