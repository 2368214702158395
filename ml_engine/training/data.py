"""Training data for the diffusion model: a pool of rendered scenes encoded once to latents, and
captions drawn per step from each scene's graph (so one image is seen under many true captions).

The pool's latents are cached under <cache>/pools, keyed by the autoencoder weights' hash, the
seed and the pool size, so a resumed run starts at once.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ml_engine.config import CACHE_ROOT
from ml_engine.data.captions import training_caption
from ml_engine.data.render import render
from ml_engine.data.scene import Scene, sample_scene
from ml_engine.images import to_model_range
from ml_engine.models.autoencoder import ShapesAutoencoder


def autoencoder_fingerprint(model: ShapesAutoencoder) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    digest.update(json.dumps(model.config.get("latent_std")).encode())
    return digest.hexdigest()[:16]


class ScenePool:
    def __init__(self, scenes: list[Scene], latents: torch.Tensor):
        self.scenes, self.latents = scenes, latents

    def __len__(self) -> int:
        return len(self.scenes)

    @classmethod
    @torch.no_grad()
    def build(cls, autoencoder: ShapesAutoencoder, size: int, seed: int, cache_dir: str | None = None) -> ScenePool:
        cache_dir = cache_dir or os.path.join(CACHE_ROOT, "pools")  # shared: runs with equal pools reuse it
        key = f"pool-{autoencoder_fingerprint(autoencoder)}-{seed}-{size}"
        path = os.path.join(cache_dir, key + ".safetensors")
        rng = np.random.default_rng([seed, 7])
        scenes = [sample_scene(rng) for _ in range(size)]  # cheap; the latents are what is cached
        if os.path.isfile(path):
            return cls(scenes, load_file(path)["latents"])
        latents = torch.empty(size, autoencoder.config.latent_channels, 8, 8)
        device = autoencoder.device
        for start in tqdm(range(0, size, 256), desc="encoding scene pool", dynamic_ncols=True):
            chunk = scenes[start : start + 256]
            pixels = torch.from_numpy(np.stack([render(s) for s in chunk])).permute(0, 3, 1, 2).float()
            z = autoencoder.normalize(autoencoder.encode(to_model_range(pixels.to(device))))
            latents[start : start + len(chunk)] = z.float().cpu()
        os.makedirs(cache_dir, exist_ok=True)
        save_file({"latents": latents}, path)
        return cls(scenes, latents)

    def batch(
        self,
        rng: np.random.Generator,
        size: int,
        caption_dropout: float,
        paraphrase_prob: float,
        weights: dict[str, float] | None,
    ) -> tuple[torch.Tensor, list[str]]:
        ids = rng.integers(0, len(self.scenes), size=size)
        captions = []
        for i in ids:
            if rng.random() < caption_dropout:
                captions.append("")
            else:
                captions.append(training_caption(self.scenes[i], rng, weights, paraphrase_prob)[1])
        return self.latents[torch.from_numpy(ids)], captions
