"""Distribution report: FID, KID, IS, precision/recall (and a CLIP score) of generated images
against fresh real renders, each beside its real-versus-real floor.

A distribution metric means little alone: FID and KID are biased by the sample count and the
extractor, so every report names both and sets beside each figure the same metric between two
disjoint sets of real renders of the same size (the floor that a perfect generator would reach;
for the Inception Score, the real set's own score). Real sets follow the COCO-FID convention: the
prompts are captions of the real scenes (canonical wording), so a generator prompted with them is
compared with the scenes the captions came from.

    python -m ml_engine.evaluation.distribution --n 2000              # the real-vs-real floor
    python -m ml_engine.evaluation.distribution --model diffusion --n 2000 --steps 20

    report = distribution_report(fake_images, real_images, load_extractor("domain"), floor_images)
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ml_engine.data.captions import training_caption
from ml_engine.data.render import render
from ml_engine.data.scene import sample_scene
from ml_engine.evaluation.distribution import metrics
from ml_engine.evaluation.distribution.clip_score import CLIP_ENV, clip_score
from ml_engine.evaluation.distribution.extractors import FeatureExtractor, as_uint8_images

FLOOR_SEED_OFFSET = 1_000_003  # the floor set's scene stream, far from any real set's seed


def real_images_and_prompts(n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """n fresh renders [n, 64, 64, 3] uint8 and a canonical caption of each scene."""
    rng = np.random.default_rng(seed)
    images, prompts = [], []
    for _ in range(n):
        scene = sample_scene(rng)
        images.append(render(scene))
        prompts.append(training_caption(scene, rng, paraphrase_prob=0.0)[1])
    return np.stack(images), prompts


def render_real_images(n: int, seed: int = 0) -> np.ndarray:
    """n fresh renders [n, 64, 64, 3] uint8 from the scene stream of `seed` (the same as real_images_and_prompts)."""
    return real_images_and_prompts(n, seed)[0]


def _pair_metrics(real: np.ndarray, other: np.ndarray, kid_subsets: int, kid_subset_size: int, k: int, seed: int):
    kid_mean, kid_std = metrics.kid(real, other, kid_subsets, kid_subset_size, seed)
    precision, recall = metrics.precision_recall(real, other, k=k)
    return {
        "fid": metrics.fid(real, other),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
    }


def _inception_score(probs: np.ndarray | None, splits: int) -> dict[str, float | None]:
    if probs is None:
        return {"is_mean": None, "is_std": None}
    mean, std = metrics.inception_score(probs, min(splits, len(probs)))
    return {"is_mean": mean, "is_std": std}


def distribution_report(
    fake_images,
    real_images,
    extractor: FeatureExtractor,
    real_floor_images=None,
    *,
    prompts: list[str] | None = None,
    clip_model: str | os.PathLike | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    is_splits: int = 10,
    k: int = 3,
    seed: int = 0,
) -> dict:
    """Metrics of fake against real images in `extractor`'s features; with `real_floor_images` (real
    images disjoint from `real_images`, ideally as many as the fakes) the same metrics between the two
    real sets under "floor". With `prompts` (one per fake image, and per real image when the real
    images are the prompts' scenes) and a CLIP model (`clip_model` or T2I_CLIP_MODEL), a CLIP score."""
    fake, real = as_uint8_images(fake_images), as_uint8_images(real_images)
    fake_feats, fake_probs = extractor.encode(fake)
    real_feats, real_probs = extractor.encode(real)
    report = {
        "extractor": extractor.name,
        "feature_dim": extractor.dim,
        "n_fake": len(fake),
        "n_real": len(real),
        **_pair_metrics(real_feats, fake_feats, kid_subsets, kid_subset_size, k, seed),
        **_inception_score(fake_probs, is_splits),
        "settings": {"kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size, "is_splits": is_splits, "k": k},
    }
    if real_floor_images is not None:
        floor = as_uint8_images(real_floor_images)
        floor_feats, _ = extractor.encode(floor)
        report["n_floor"] = len(floor)
        report["floor"] = {
            **_pair_metrics(real_feats, floor_feats, kid_subsets, kid_subset_size, k, seed),
            **_inception_score(real_probs, is_splits),  # IS has no pair: the real set's own score
        }
    clip_path = clip_model if clip_model is not None else os.environ.get(CLIP_ENV) or None
    if prompts is not None and clip_path is not None:
        report["clip_model"] = os.path.basename(os.path.normpath(str(clip_path)))
        report["clip_score"] = clip_score(fake, prompts, clip_path)
        if len(real) == len(prompts):
            report.setdefault("floor", {})["clip_score"] = clip_score(real, prompts, clip_path)
    return report


def generate_images(
    pipe, prompts: list[str], *, seed: int = 0, steps: int | None = None, guidance: float | None = None, batch_size=64
) -> np.ndarray:
    """One image per prompt from a text-to-image pipeline (image i with seed `seed * 1_000_000 + i`)."""
    options = {}
    if steps is not None:
        options["num_inference_steps"] = steps
    if guidance is not None:
        options["guidance_scale"] = guidance
    images = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        generators = [torch.Generator("cpu").manual_seed(seed * 1_000_000 + start + i) for i in range(len(chunk))]
        images.extend(pipe(chunk, generator=generators, **options).images)
    return as_uint8_images(images)


def evaluate_generator(pipe, extractor: FeatureExtractor, *, n: int = 2000, seed: int = 0, **options) -> dict:
    """Generate from the captions of n fresh scenes and report against their renders, beside a floor
    of n other renders. `options` go to generate_images (steps, guidance, batch_size)."""
    real, prompts = real_images_and_prompts(n, seed)
    fake = generate_images(pipe, prompts, seed=seed, **options)
    floor = render_real_images(n, seed + FLOOR_SEED_OFFSET)
    return distribution_report(fake, real, extractor, floor, prompts=prompts, seed=seed)


def real_floor_report(extractor: FeatureExtractor, *, n: int = 2000, seed: int = 0, **options) -> dict:
    """The floor alone: the metrics between two disjoint sets of n fresh renders (IS: of the second set)."""
    real = render_real_images(n, seed)
    other = render_real_images(n, seed + FLOOR_SEED_OFFSET)
    pair = distribution_report(other, real, extractor, seed=seed, **options)
    keys = ("fid", "kid_mean", "kid_std", "precision", "recall", "is_mean", "is_std")
    return {
        "extractor": pair["extractor"],
        "feature_dim": pair["feature_dim"],
        "n_real": n,
        "n_floor": n,
        "floor": {key: pair[key] for key in keys},
        "settings": pair["settings"],
    }
