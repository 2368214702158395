"""Train the Shapes domain classifier (the offline feature extractor of the distribution metrics).

Every batch is freshly rendered from the scene sampler, so there is no fixed training set to
overfit; each scene's graph gives the labels of all five heads (see models/domain_classifier.py).
The loss sums cross-entropy on `largest` and `count` and binary cross-entropy on `presence`,
`large` and `layout` (each summed over its labels). Light pixel noise on half the batches keeps the
features smooth under the small deviations from a clean render that every generator makes. The run
is short (minutes of one CPU thread; `max_minutes` counts CPU time, so a busy machine stretches the
wall time rather than cutting the steps) and does not checkpoint; at the end the held-out accuracies on fresh
renders from a separate stream are measured and written into the shipped config.json beside the
weights, after the embedding's mean and standard deviation on fresh renders (a third stream) are set
as the features' standardization.

    python -m ml_engine.training.domain_classifier --config configs/domain_classifier.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from ml_engine.config import DomainClassifierTrainConfig
from ml_engine.data import spec
from ml_engine.data.render import render
from ml_engine.data.scene import Scene, sample_scene
from ml_engine.models.domain_classifier import LAYOUT_GRID, PAIRS, DomainClassifier, DomainClassifierConfig
from ml_engine.precision import autocast
from ml_engine.tracking import Tracker
from ml_engine.training.common import lr_at, optimizer_step, seed_everything

PAIR_INDEX = {pair: i for i, pair in enumerate(PAIRS)}
AREA_FACTOR = {"circle": np.pi / 4, "square": 1.0, "triangle": spec.triangle_height(1) / 2, "cross": 5 / 9}


def object_area(shape: str, d: float) -> float:
    """Drawn area in px^2 of a shape of diameter d (the cross is two d x d/3 bars less their overlap)."""
    return AREA_FACTOR[shape] * d * d


def scene_targets(scene: Scene) -> dict[str, np.ndarray]:
    """The labels of every head for one scene."""
    areas = [object_area(o.shape, o.d) for o in scene.objects]
    largest = scene.objects[int(np.argmax(areas))]
    presence = np.zeros(len(PAIRS), np.float32)
    large = np.zeros(len(PAIRS), np.float32)
    layout = np.zeros(LAYOUT_GRID * LAYOUT_GRID, np.float32)
    cell = spec.CANVAS / LAYOUT_GRID
    for obj in scene.objects:
        index = PAIR_INDEX[(obj.shape, obj.color)]
        presence[index] = 1
        large[index] = max(large[index], float(obj.size == "large"))
        row, col = min(int(obj.cy // cell), LAYOUT_GRID - 1), min(int(obj.cx // cell), LAYOUT_GRID - 1)
        layout[row * LAYOUT_GRID + col] = 1
    return {
        "largest": np.int64(PAIR_INDEX[(largest.shape, largest.color)]),
        "count": np.int64(len(scene.objects) - spec.MIN_OBJECTS),
        "presence": presence,
        "large": large,
        "layout": layout,
    }


def labelled_batch(rng: np.random.Generator, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """n fresh scenes: pixels [n, 3, 64, 64] (0..255 floats) and their stacked targets."""
    scenes = [sample_scene(rng) for _ in range(n)]
    pixels = torch.from_numpy(np.stack([render(s) for s in scenes])).permute(0, 3, 1, 2).float()
    targets = [scene_targets(s) for s in scenes]
    return pixels, {k: torch.from_numpy(np.stack([t[k] for t in targets])) for k in targets[0]}


def classifier_loss(out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    loss = F.cross_entropy(out["largest"].float(), targets["largest"])
    loss = loss + F.cross_entropy(out["count"].float(), targets["count"])
    for name in ("presence", "large", "layout"):
        # summed over labels, so that each label weighs as much as a softmax head (averaged, the 32
        # presence labels of a small object were too faint a signal to learn)
        bce = F.binary_cross_entropy_with_logits(out[name].float(), targets[name], reduction="none")
        loss = loss + bce.sum(1).mean()
    return loss


@torch.no_grad()
def held_out_accuracy(model: DomainClassifier, n: int, seed: int, batch_size: int = 250) -> dict[str, float]:
    """Accuracies of every head on n fresh renders: top-1 for the softmax heads; for the sigmoid heads,
    the share of scenes whose whole label set is right and the share of right individual labels; and
    the recall of `presence` on pairs that only small objects show."""
    model.eval()
    rng = np.random.default_rng(seed)
    hits: dict[str, float] = {}
    for start in range(0, n, batch_size):
        pixels, targets = labelled_batch(rng, min(batch_size, n - start))
        out = model(pixels)
        largest = out["largest"].argmax(1)
        right = {
            "largest": largest == targets["largest"],
            "largest_shape": largest // len(spec.COLORS) == targets["largest"] // len(spec.COLORS),
            "largest_color": largest % len(spec.COLORS) == targets["largest"] % len(spec.COLORS),
            "count": out["count"].argmax(1) == targets["count"],
        }
        for name in ("presence", "large", "layout"):
            labels_right = (out[name] > 0).float() == targets[name]
            right[f"{name}_exact"] = labels_right.all(1)
            right[f"{name}_labels"] = labels_right.float().mean(1)
        # the pairs present only as small objects, the hardest to see: the share that `presence` finds
        small_only = (targets["presence"] > 0) & (targets["large"] == 0)
        small_found = (out["presence"] > 0) & small_only
        hits["small_pairs"] = hits.get("small_pairs", 0.0) + float(small_only.sum())
        hits["small_found"] = hits.get("small_found", 0.0) + float(small_found.sum())
        for name, values in right.items():
            hits[name] = hits.get(name, 0.0) + float(values.float().sum())
    small_pairs, small_found = hits.pop("small_pairs"), hits.pop("small_found")
    accuracy = {name: round(total / n, 4) for name, total in hits.items()}
    accuracy["presence_recall_small"] = round(small_found / max(small_pairs, 1.0), 4)
    return accuracy


@torch.no_grad()
def embedding_statistics(
    model: DomainClassifier, n: int, seed: int, batch_size: int = 250
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each embedding dimension over n fresh renders: the standardization
    that makes the metrics' features unit-variance on real data."""
    rng = np.random.default_rng(seed)
    embeddings = torch.cat(
        [model.embedding(labelled_batch(rng, min(batch_size, n - start))[0]) for start in range(0, n, batch_size)]
    ).double()
    return embeddings.mean(0).float(), embeddings.std(0).clamp(min=1e-6).float()


def scheduled_lr(config: DomainClassifierTrainConfig, step: int, seconds: float) -> float:
    """Linear warm-up, then cosine decay over whichever budget runs out first: steps or minutes, so
    that a run cut short by `max_minutes` on a slow CPU still ends at the low learning rate."""
    if step < config.warmup_steps or not config.max_minutes:
        return lr_at(step, config.lr, config.warmup_steps, config.max_steps, config.min_lr_ratio)
    by_time = config.warmup_steps + (config.max_steps - config.warmup_steps) * seconds / (60 * config.max_minutes)
    return lr_at(max(step, int(by_time)), config.lr, config.warmup_steps, config.max_steps, config.min_lr_ratio)


def train_domain_classifier(config: DomainClassifierTrainConfig) -> str:
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    model = DomainClassifier(DomainClassifierConfig(config.widths, config.pooled_grid, config.embed_dim))
    model = model.to(config.device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng, noise_rng = np.random.default_rng([config.seed, 1]), torch.Generator().manual_seed(config.seed)
    tracker = Tracker(config.mlflow, config.experiment, config.name)
    tracker.start(dataclasses.asdict(config), tags={"stage": "domain_classifier"})
    clock = time.process_time if config.cpu_clock else time.time
    started, wall_started, step, curve = clock(), time.time(), 0, []
    model.train()
    while step < config.max_steps:
        if config.max_minutes and clock() - started > 60 * config.max_minutes:
            break
        pixels, targets = labelled_batch(rng, config.batch_size)
        if torch.rand((), generator=noise_rng) < config.noise_prob:
            sigma = float(torch.rand((), generator=noise_rng)) * config.noise_max
            pixels = (pixels + sigma * torch.randn(pixels.shape, generator=noise_rng)).clamp(0, 255)
        pixels = pixels.to(config.device, memory_format=torch.channels_last)
        targets = {k: v.to(config.device) for k, v in targets.items()}
        lr = scheduled_lr(config, step, clock() - started)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with autocast(config.device, config.bf16):
            loss = classifier_loss(model(pixels), targets)
        optimizer_step(optimizer, loss, model.parameters(), config.grad_clip)
        step += 1
        if step % config.log_every == 0 or step == config.max_steps:
            minutes = (clock() - started) / 60
            curve.append({"step": step, "loss": round(loss.item(), 4), "minutes": round(minutes, 2)})
            tracker.metrics({"loss": loss.item(), "lr": lr}, step)
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {minutes:.1f} min", flush=True)
    train_minutes, wall_minutes = (clock() - started) / 60, (time.time() - wall_started) / 60
    output = config.output_dir or os.path.join(config.run_dir, "final")
    extra = {
        "trained_by": "python -m ml_engine.training.domain_classifier --config configs/domain_classifier.json",
        "training": {
            **{k: v for k, v in dataclasses.asdict(config).items() if k not in {"output_dir"}},
            "steps": step,
            "images_seen": step * config.batch_size,
            "minutes": round(train_minutes, 2),  # on the clock that max_minutes counts (cpu_clock)
            "wall_minutes": round(wall_minutes, 2),
            "torch_threads": torch.get_num_threads(),
        },
        "curve": curve,
    }
    model = model.to("cpu").eval()
    model.feature_mean, model.feature_std = embedding_statistics(model, config.eval_images, seed=config.seed + 20_000)
    model.save_pretrained(output, extra)
    model = DomainClassifier.from_pretrained(output)  # measure the weights as shipped (float16 on disk)
    accuracy = held_out_accuracy(model, config.eval_images, seed=config.seed + 10_000)
    tracker.metrics({f"held_out/{k}": v for k, v in accuracy.items()}, step)
    print("held-out accuracy on", config.eval_images, "fresh renders:", json.dumps(accuracy), flush=True)
    extra["held_out"] = {"images": config.eval_images, "seed": config.seed + 10_000, "accuracy": accuracy}
    model.save_pretrained(output, extra)
    tracker.end()
    return output


def load_train_config(path: str, **overrides) -> DomainClassifierTrainConfig:
    with open(path) as f:
        data = json.load(f)
    data.update({k: v for k, v in overrides.items() if v is not None})
    if data.get("kind", "domain_classifier") != "domain_classifier":
        raise ValueError(f"{path} is a {data['kind']!r} config, not a domain_classifier one")
    names = {f.name for f in dataclasses.fields(DomainClassifierTrainConfig)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown config fields in {path}: {sorted(unknown)}")
    if "widths" in data:
        data["widths"] = tuple(data["widths"])
    return DomainClassifierTrainConfig(**data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_engine.training.domain_classifier", description=__doc__)
    parser.add_argument("--config", required=True, help="JSON with kind=domain_classifier and fields")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--output-dir", help="where the weights go (default: the config's output_dir)")
    parser.add_argument("--device", help="cpu or cuda")
    args = parser.parse_args(argv)
    config = load_train_config(
        args.config,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        output_dir=args.output_dir,
        device=args.device,
    )
    print(f"saved domain classifier to {train_domain_classifier(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
