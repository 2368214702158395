"""Training data for the diffusion model: a pool of rendered scenes encoded once to latents, and
captions drawn per step from each scene's graph (so one image is seen under many true captions).

The pool's latents are cached under <cache>/pools, keyed by the autoencoder weights' hash, the
seed and the pool size, so a resumed run starts at once.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ml_engine.config import CACHE_ROOT
from ml_engine.data.captions import Requirement, caption_text, requirement_from_scene, training_requirement
from ml_engine.data.negatives import near_miss
from ml_engine.data.render import render_batch
from ml_engine.data.scene import Scene, sample_scene
from ml_engine.data.whole_scenes import planned_categories, whole_scene
from ml_engine.images import to_model_range
from ml_engine.models.autoencoder import ShapesAutoencoder, load_autoencoder
from ml_engine.text.cache import CaptionStateCache, DeviceCaptionStates
from ml_engine.text.encoder import TextEncoder
from ml_engine.training.common import seed_everything


def autoencoder_fingerprint(model: ShapesAutoencoder) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    digest.update(json.dumps(model.config.get("latent_std")).encode())
    return digest.hexdigest()[:16]


RENDER_CHUNK = 256
PARALLEL_FROM = 4096  # smaller pools render inline: starting worker processes would cost more than it saves


def rendered_chunks(scenes: list[Scene], workers: int | None = None) -> Iterator[np.ndarray]:
    """Renders of `scenes` in order, RENDER_CHUNK at a time, on every core for a large pool. With the encoder on
    a GPU, rendering (~0.2 ms a scene on one core) is what a pool build waits on: 400k scenes on 16 cores."""
    chunks = [scenes[i : i + RENDER_CHUNK] for i in range(0, len(scenes), RENDER_CHUNK)]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(scenes) < PARALLEL_FROM:
        yield from map(render_batch, chunks)
        return
    # spawn, not fork: the parent holds torch's thread pools (and maybe CUDA), which do not survive a fork
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield from executor.map(render_batch, chunks)


@torch.no_grad()
def encode_renders(autoencoder: ShapesAutoencoder, rendered: np.ndarray) -> torch.Tensor:
    """uint8 renders [N, 64, 64, 3] -> the autoencoder's normalised latents, on the CPU."""
    pixels = torch.from_numpy(rendered).permute(0, 3, 1, 2).float().to(autoencoder.device)
    return autoencoder.normalize(autoencoder.encode(to_model_range(pixels))).float().cpu()


class ScenePool:
    def __init__(self, scenes: list[Scene], latents: torch.Tensor, planned: list[str | None] | None = None):
        self.scenes, self.latents = scenes, latents
        self.planned = planned or [None] * len(scenes)  # the category a scene was drawn whole for, if any

    def __len__(self) -> int:
        return len(self.scenes)

    @classmethod
    @torch.no_grad()
    def build(
        cls,
        autoencoder: ShapesAutoencoder,
        size: int,
        seed: int,
        cache_dir: str | None = None,
        whole_share: float = 0.0,
        weights: dict[str, float] | None = None,
    ) -> ScenePool:
        """`whole_share` of the scenes are drawn whole for a category (data/whole_scenes.py), by `weights`."""
        cache_dir = cache_dir or os.path.join(CACHE_ROOT, "pools")  # shared: runs with equal pools reuse it
        key = f"pool-{autoencoder_fingerprint(autoencoder)}-{seed}-{size}"
        rng = np.random.default_rng([seed, 7])
        if whole_share > 0:
            planned = planned_categories(size, whole_share, np.random.default_rng([seed, 8]), weights)
            scenes = [whole_scene(c, rng) if c else sample_scene(rng) for c in planned]
            plan = json.dumps([whole_share, weights], sort_keys=True).encode()
            key += "-whole-" + hashlib.sha256(plan).hexdigest()[:8]
        else:  # the pools of earlier runs, scene for scene
            planned = None
            scenes = [sample_scene(rng) for _ in range(size)]  # cheap; the latents are what is cached
        path = os.path.join(cache_dir, key + ".safetensors")
        if os.path.isfile(path):
            return cls(scenes, load_file(path)["latents"], planned)
        latents = torch.empty(size, autoencoder.config.latent_channels, 8, 8)
        chunks = tqdm(rendered_chunks(scenes), total=-(-size // RENDER_CHUNK), desc="encoding scene pool")
        for index, rendered in enumerate(chunks):
            start = index * RENDER_CHUNK
            latents[start : start + len(rendered)] = encode_renders(autoencoder, rendered)
        os.makedirs(cache_dir, exist_ok=True)
        save_file({"latents": latents}, path)
        return cls(scenes, latents, planned)

    def draw(
        self,
        rng: np.random.Generator,
        size: int,
        caption_dropout: float,
        paraphrase_prob: float,
        weights: dict[str, float] | None,
        negative_prob: float = 0.0,
    ) -> CaptionedDraw:
        """`size` scenes, each with a true caption and, for a `negative_prob` share, a near-miss false one."""
        ids = rng.integers(0, len(self.scenes), size=size)
        draw = CaptionedDraw(ids, [], [], [], [])
        for i in ids:
            req, negative, false = None, None, None
            if rng.random() < caption_dropout:
                draw.captions.append("")
            else:
                scene, whole_for = self.scenes[i], self.planned[i]
                # a scene drawn whole keeps the caption that names all of it
                if whole_for:
                    req = requirement_from_scene(whole_for, scene, rng)
                else:
                    req = training_requirement(scene, rng, weights)
                draw.captions.append(caption_text(req, rng, paraphrase_prob))
                if negative_prob and rng.random() < negative_prob:
                    false = near_miss(req, scene, rng)
                    negative = caption_text(false, rng, paraphrase_prob) if false else None
            draw.requirements.append(req)
            draw.negatives.append(negative)
            draw.negative_requirements.append(false)
        return draw

    def batch(
        self,
        rng: np.random.Generator,
        size: int,
        caption_dropout: float,
        paraphrase_prob: float,
        weights: dict[str, float] | None,
        negative_prob: float = 0.0,
    ) -> tuple[torch.Tensor, list[str], list[str | None]]:
        """Latents, true captions and, for a `negative_prob` share, a near-miss false caption (else None)."""
        draw = self.draw(rng, size, caption_dropout, paraphrase_prob, weights, negative_prob)
        return self.latents[torch.from_numpy(draw.ids)], draw.captions, draw.negatives


class CaptionedDraw(NamedTuple):
    ids: np.ndarray  # pool indices
    captions: list[str]  # true of the scene ("" where dropped for guidance)
    requirements: list[Requirement | None]  # what each caption claims (None where dropped)
    negatives: list[str | None]  # a near-miss false caption, where one was asked for and found
    negative_requirements: list[Requirement | None]  # what each near miss claims


class LatentRun(NamedTuple):
    """What a run on autoencoder latents starts from (the diffusion model and the GAN alike)."""

    autoencoder: ShapesAutoencoder  # frozen
    pool: ScenePool
    text: TextEncoder
    captions: CaptionStateCache | DeviceCaptionStates
    caption_file: str  # where the run keeps its encoded captions between invocations


def latent_run_start(config, pool_seed: int) -> LatentRun:
    """Seed, threads and run folder; the frozen autoencoder, its scene pool and the run's caption-state cache."""
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    os.makedirs(config.run_dir, exist_ok=True)
    autoencoder = load_autoencoder(config.autoencoder).to(config.device).eval().requires_grad_(False)
    weights = config.category_weights or None
    pool = ScenePool.build(autoencoder, config.scene_pool, pool_seed, whole_share=config.whole_scenes, weights=weights)
    text = TextEncoder.load()
    on_accelerator = not str(config.device).startswith("cpu")
    captions = DeviceCaptionStates(text, config.device) if on_accelerator else CaptionStateCache(text)
    caption_file = os.path.join(config.run_dir, "captions.safetensors")
    if os.path.isfile(caption_file):
        captions.load(caption_file)
    return LatentRun(autoencoder, pool, text, captions, caption_file)
