"""Train the Shapes diffusion UNet on autoencoder latents, conditioned on MiniLM token states.

Objective: v-prediction (Salimans & Ho, 2022) on a cosine schedule with min-SNR-gamma loss
weighting (Hang et al., 2023), which keeps the low-noise steps from being drowned out: the first
CPU calibration had not learned flat colour at low noise. Classifier-free guidance by caption
dropout (Ho & Salimans, 2022). EMA weights are what gets evaluated and shipped. Every
`eval_every` steps the EMA model generates a fixed canonical prompt set and the evaluator scores
it: the alignment curve against images seen is logged to MLflow and kept with the model.

    python -m ml_engine train --config configs/diffusion.json [--device cuda]
"""

from __future__ import annotations

import copy
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ml_engine.config import DiffusionConfig
from ml_engine.evaluation.prompts import prompt_set
from ml_engine.evaluation.run import evaluate_pipeline
from ml_engine.images import grid
from ml_engine.models.unet import build_unet, deepen_attention, unet_output
from ml_engine.pipelines.shapes import ShapesDiffusionPipeline
from ml_engine.precision import autocast
from ml_engine.provenance import training_tags
from ml_engine.schedulers import min_snr_weights, noised, sampling_scheduler, training_scheduler
from ml_engine.tracking import Tracker
from ml_engine.training.common import (
    EMA,
    after_step,
    finish_run,
    load_checkpoint,
    optimizer_step,
    save_checkpoint,
    set_scheduled_lr,
)
from ml_engine.training.data import latent_run_start


def batch_loss(unet, noise_scheduler, config: DiffusionConfig, latents, states, mask) -> torch.Tensor:
    """One batch's min-SNR-weighted denoising loss."""
    noise = torch.randn_like(latents)
    t = torch.randint(0, config.num_train_timesteps, (latents.shape[0],), device=latents.device)
    noisy, target = noised(noise_scheduler, latents, noise, t)
    with autocast(config.device, config.bf16):
        pred = unet_output(unet, noisy, t, states, mask)
    errors = F.mse_loss(pred.float(), target, reduction="none").mean(dim=(1, 2, 3))
    weights = min_snr_weights(noise_scheduler, t, config.min_snr_gamma, config.prediction_type)
    return (errors * weights).mean()


def _load_unet(config: DiffusionConfig):
    if config.init_from:
        from diffusers import UNet2DConditionModel

        unet = UNet2DConditionModel.from_pretrained(config.init_from, subfolder="unet", use_safetensors=True)
        if config.transformer_layers > unet.config.transformer_layers_per_block:
            unet = deepen_attention(unet, config.transformer_layers)
        return unet
    return build_unet(
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        attention_head_dim=config.attention_head_dim,
        transformer_layers=config.transformer_layers,
    )


def previous_training(config: DiffusionConfig) -> dict:
    """Curve and images seen of the model this run continues from (empty for a fresh model)."""
    path = os.path.join(config.init_from, "training.json") if config.init_from else ""
    if not os.path.isfile(path):
        return {"images_seen": 0, "curve": [], "loss_curve": []}
    with open(path) as f:
        previous = json.load(f)
    return {k: previous.get(k, 0 if k == "images_seen" else []) for k in ("images_seen", "curve", "loss_curve")}


def evaluate_ema(pipe, config: DiffusionConfig) -> tuple[dict[str, float], object]:
    prompts = prompt_set(config.eval_per_category, seed=2024)
    result = evaluate_pipeline(
        pipe, prompts, list(range(config.eval_seeds)), steps=config.eval_steps, guidance=config.guidance_scale
    )
    sheet = grid(result.images[: 8 * 8 * config.eval_seeds : config.eval_seeds], columns=8)
    return result.scores, sheet


def train_diffusion(config: DiffusionConfig) -> str:
    device = config.device
    autoencoder, pool, text, captions, caption_file = latent_run_start(config, config.seed)

    model = _load_unet(config).to(device).train()
    noise_scheduler = training_scheduler(config.num_train_timesteps, config.beta_schedule, config.prediction_type)
    ema = EMA(model, config.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    previous = previous_training(config)
    images_before = previous["images_seen"]
    fresh = {"step": 0, "curve": previous["curve"], "loss_curve": [], "run_id": None}
    info = load_checkpoint(config.run_dir, model, ema, optimizer) or fresh
    step = info["step"]
    rng = np.random.default_rng([config.seed, step])

    ema_model = copy.deepcopy(model).eval().requires_grad_(False)
    pipe = ShapesDiffusionPipeline(
        autoencoder,
        ema_model,
        sampling_scheduler(noise_scheduler),
        text_encoder=text,
        # the saved model samples by default as its curve was measured
        default_steps=config.eval_steps,
        default_guidance=config.guidance_scale,
    )
    pipe.set_progress_bar_config(disable=True)
    params = sum(p.numel() for p in model.parameters())
    tracker = Tracker(config.mlflow, config.experiment, config.name, os.path.join(config.run_dir, "tb"))
    info["run_id"] = tracker.start(
        {**vars(config), "unet_params": params},
        resume_run_id=info.get("run_id"),
        tags={"stage": "diffusion", **training_tags(config)},
    )
    weights = config.category_weights or None
    started, seen_since_log = time.time(), time.time()

    def evaluate_and_log():
        ema.copy_to(ema_model)
        scores, sheet = evaluate_ema(pipe, config)
        info["curve"].append({"step": step, "images": images_before + step * config.batch_size, **scores})
        tracker.metrics({f"eval/{k}": v for k, v in scores.items()}, step)
        tracker.image(sheet, f"samples/step_{step:07d}.png")
        tqdm.write(f"step {step}: " + json.dumps({k: round(v, 3) for k, v in scores.items()}))

    def checkpoint(with_captions: bool):
        save_checkpoint(config.run_dir, model, ema, optimizer, {**info, "step": step})
        if with_captions:  # large (GBs late in a run): saved rarely, unseen captions re-encode
            captions.save(caption_file)

    bar = tqdm(total=config.max_steps, initial=step, desc="diffusion", dynamic_ncols=True)
    try:
        while step < config.max_steps:
            latents, texts, _ = pool.batch(
                rng, config.batch_size, config.caption_dropout, config.paraphrase_prob, weights
            )
            states, mask = captions.lookup(texts)
            latents, states, mask = latents.to(device), states.to(device), mask.to(device)
            set_scheduled_lr(optimizer, config, step, started)
            loss = batch_loss(model, noise_scheduler, config, latents, states, mask)
            denoising = loss.item()
            optimizer_step(optimizer, loss, model.parameters(), config.grad_clip)
            ema.update(model, step)
            step += 1
            bar.update(1)
            if step % config.log_every == 0:
                rate = config.log_every * config.batch_size / (time.time() - seen_since_log)
                seen_since_log = time.time()
                bar.set_postfix(loss=f"{denoising:.4f}", img_s=f"{rate:.0f}")
                info["loss_curve"].append([step, round(denoising, 5)])
                tracker.metrics({"loss": denoising, "lr": optimizer.param_groups[0]["lr"], "img_per_s": rate}, step)
            if after_step(step, config, started, evaluate_and_log, checkpoint):
                break
    finally:
        bar.close()

    if step and (not info["curve"] or info["curve"][-1]["images"] != images_before + step * config.batch_size):
        evaluate_and_log()
    ema.copy_to(ema_model)
    output = config.output_dir or os.path.join(config.run_dir, "final")
    pipe.save_pretrained(output, safe_serialization=True)
    summary = {
        "config": vars(config),
        "step": step,
        "images_seen": images_before + step * config.batch_size,
        "images_seen_before": images_before,
        "continued_from": config.init_from or None,
        "unet_params": params,
        "curve": info["curve"],
        "loss_curve": info["loss_curve"],
    }
    return finish_run(output, summary, tracker)
