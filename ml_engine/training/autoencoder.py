"""Train the Shapes autoencoder on an endless stream of freshly rendered scenes.

Loss: L1 + 0.5 MSE per pixel, weighted up on object pixels and, more, on the background ring
within 2 px of an object: faint halos there are what joins two nearby small objects into one
region (docs/shapes-model.md, "What it is"). Latent noise during training makes the decoder robust to
the imperfect latents that the diffusion model samples. Every `eval_every` steps the evaluator
scores reconstructions of fresh scenes against their own canonical captions: the ceiling that the
whole pipeline can reach.

    python -m ml_engine train --config configs/autoencoder.json
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ml_engine.config import AutoencoderConfig
from ml_engine.data import spec
from ml_engine.data.captions import requirement_from_scene
from ml_engine.data.render import render
from ml_engine.data.scene import sample_scene
from ml_engine.evaluation.scoring import score_images
from ml_engine.images import from_model_range, to_model_range
from ml_engine.models.autoencoder import ShapesAutoencoder
from ml_engine.precision import autocast
from ml_engine.provenance import training_tags
from ml_engine.tracking import Tracker
from ml_engine.training.common import (
    load_checkpoint,
    lr_at,
    optimizer_step,
    save_checkpoint,
    seed_everything,
)

_BG = torch.tensor(spec.BACKGROUND, dtype=torch.float32).view(1, 3, 1, 1)


def render_batch(rng: np.random.Generator, n: int) -> tuple[torch.Tensor, list]:
    scenes = [sample_scene(rng) for _ in range(n)]
    pixels = torch.from_numpy(np.stack([render(s) for s in scenes])).permute(0, 3, 1, 2).float()
    return pixels, scenes


def loss_weights(pixels_255: torch.Tensor, ring_weight: float, foreground_weight: float) -> torch.Tensor:
    touched = (pixels_255 - _BG).norm(dim=1, keepdim=True) > 20  # any object pixel, rims included
    ring = (F.max_pool2d(touched.float(), 5, stride=1, padding=2) > 0) & ~touched
    return 1 + ring_weight * ring.float() + foreground_weight * touched.float()


@torch.no_grad()
def reconstruction_scores(model: ShapesAutoencoder, n: int, seed: int, device: str) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    pixels, scenes = render_batch(rng, n)
    recon = []
    for start in range(0, n, 128):
        x = to_model_range(pixels[start : start + 128].to(device))
        recon.append(from_model_range(model(x).float()).cpu())
    images = torch.cat(recon).permute(0, 2, 3, 1).numpy()
    images_l, reqs = [], []
    for image, scene in zip(images, scenes, strict=True):
        for category in spec.CATEGORIES:
            req = requirement_from_scene(category, scene, rng)
            if req is not None:
                images_l.append(image)
                reqs.append(req)
    scores = score_images(images_l, reqs)
    scores["mae_255"] = float((torch.from_numpy(images).float() - pixels.permute(0, 2, 3, 1)).abs().mean())
    return scores


@torch.no_grad()
def latent_stats(model: ShapesAutoencoder, device: str, n: int = 4096, seed: int = 12345):
    rng = np.random.default_rng(seed)
    latents = []
    for _ in range(0, n, 256):
        pixels, _ = render_batch(rng, 256)
        latents.append(model.encode(to_model_range(pixels.to(device))).float().cpu())
    z = torch.cat(latents)
    return z.mean(dim=(0, 2, 3)), z.std(dim=(0, 2, 3))


def train_autoencoder(config: AutoencoderConfig) -> str:
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = config.device
    model = ShapesAutoencoder(
        latent_channels=config.latent_channels,
        encoder_widths=config.encoder_widths,
        decoder_widths=config.decoder_widths,
        decoder_blocks=config.decoder_blocks,
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    os.makedirs(config.run_dir, exist_ok=True)
    fresh = {"step": 0, "curve": [], "loss_curve": [], "run_id": None}
    info = load_checkpoint(config.run_dir, model, None, optimizer) or fresh
    step = info["step"]
    data_rng = np.random.default_rng([config.seed, step])  # a resumed run continues with fresh scenes

    tracker = Tracker(config.mlflow, config.experiment, config.name, os.path.join(config.run_dir, "tb"))
    info["run_id"] = tracker.start(
        vars(config), resume_run_id=info.get("run_id"), tags={"stage": "autoencoder", **training_tags(config)}
    )
    use_bf16 = config.bf16
    started = time.time()
    bar = tqdm(total=config.max_steps, initial=step, desc="autoencoder", dynamic_ncols=True)
    try:
        while step < config.max_steps:
            pixels, _ = render_batch(data_rng, config.batch_size)
            pixels = pixels.to(device)
            x = to_model_range(pixels)
            weights = loss_weights(pixels, config.ring_weight, config.foreground_weight)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, config.lr, config.warmup_steps, config.max_steps, config.min_lr_ratio)
            with autocast(device, use_bf16):
                z = model.encode(x)
                z = z + config.latent_noise * z.detach().std() * torch.randn_like(z)
                y = model.decode(z).float()
            err = y - x
            loss = (weights * (err.abs() + 0.5 * err.square())).mean()
            optimizer_step(optimizer, loss, model.parameters(), config.grad_clip)
            step += 1
            bar.update(1)
            if step % config.log_every == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
                info.setdefault("loss_curve", []).append([step, round(loss.item(), 5)])
                tracker.metrics({"loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]}, step)
            if step % config.eval_every == 0 or step == config.max_steps:
                model.eval()
                scores = reconstruction_scores(model, config.eval_images, seed=999, device=device)
                model.train()
                info["curve"].append({"step": step, "images": step * config.batch_size, **scores})
                tracker.metrics({f"recon/{k}": v for k, v in scores.items()}, step)
                tqdm.write(f"step {step}: " + json.dumps({k: round(v, 3) for k, v in scores.items()}))
            timed_out = config.max_minutes and (time.time() - started) / 60 > config.max_minutes
            if step % config.checkpoint_every == 0 or step == config.max_steps or timed_out:
                save_checkpoint(config.run_dir, model, None, optimizer, {**info, "step": step})
            if timed_out:
                tqdm.write(f"stopping after {config.max_minutes} minutes at step {step}; resume with the same command")
                break
    finally:
        bar.close()

    output = config.output_dir or os.path.join(config.run_dir, "final")
    model.eval()
    mean, std = latent_stats(model, device)
    model.set_latent_stats(mean, std)
    model.save_pretrained(output)
    with open(os.path.join(output, "training.json"), "w") as f:
        summary = {"config": vars(config), "step": step, "curve": info["curve"], "loss_curve": info.get("loss_curve")}
        json.dump(summary, f, indent=1, default=str)
    tracker.artifact(os.path.join(output, "training.json"))
    tracker.end()
    return output
