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
from torch import nn
from tqdm import tqdm

from ml_engine.config import DiffusionConfig
from ml_engine.evaluation.prompts import prompt_set
from ml_engine.evaluation.run import evaluate_pipeline
from ml_engine.images import grid
from ml_engine.models.caption_reader import CaptionReader
from ml_engine.models.unet import (
    add_coordinates,
    add_guidance_input,
    build_unet,
    deepen_attention,
    takes_guidance,
    unet_output,
)
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
from ml_engine.training.trajectories import guidance_scales, teacher_guided, trajectory_distillation_loss


class ReadingUNet(nn.Module):
    """The trained part of a diffusion model: the UNet, and the caption reader in front of it when there is one
    (one module, so one EMA, one optimizer and one checkpoint hold both)."""

    def __init__(self, unet, caption_reader: CaptionReader | None):
        super().__init__()
        self.unet, self.caption_reader = unet, caption_reader

    def forward(self, noisy, t, states, mask, guidance: torch.Tensor | None = None) -> torch.Tensor:
        if self.caption_reader is not None:
            states = self.caption_reader(states, mask)
        return unet_output(self.unet, noisy, t, states, mask, guidance)

    def parameter_groups(self, reader_lr_scale: float) -> list[dict]:
        groups = [{"params": list(self.unet.parameters())}]
        if self.caption_reader is not None and reader_lr_scale > 0:
            groups.append({"params": list(self.caption_reader.parameters()), "lr_scale": reader_lr_scale})
        return groups


def near_miss_ranking(true_error: torch.Tensor, false_error: torch.Tensor, margin: float):
    """Hinge on the denoising errors of the same noisy latents under the true caption and under its near miss.

    The denoising error under a caption is the diffusion model's own measure of how well the caption fits
    (Li et al., 2023, "Your diffusion model is secretly a zero-shot classifier"). Plain denoising gives the caption's
    word order little to do: at all but the noisiest steps the layout shows in the latent itself. Asking the true
    caption to explain the latent better than "the same words, the relation turned" or "the colours swapped" does
    need the order, so the gradient reaches the caption reader. Relative to the true error, so every noise level
    counts alike; returns the loss and the share of pairs already ranked right. Measured in session 9
    (docs/shapes-model.md): at weight 0.05 it learnt what a bag of words can tell, not the order, and cost counts."""
    relative = (true_error - false_error) / true_error.detach().clamp_min(1e-8)
    return F.relu(relative + margin).mean(), (true_error < false_error).float().mean()


def batch_loss(model: ReadingUNet, noise_scheduler, config: DiffusionConfig, latents, states, mask, paired: list[int]):
    """One batch's loss: the min-SNR-weighted denoising loss, plus the near-miss ranking on the `paired` rows, whose
    near misses follow the true captions in `states` and `mask`. Returns the loss, its denoising part and, where
    there were pairs, (ranking loss, share ranked right)."""
    noise = torch.randn_like(latents)
    t = torch.randint(0, config.num_train_timesteps, (latents.shape[0],), device=latents.device)
    noisy, target = noised(noise_scheduler, latents, noise, t)
    rows = torch.tensor(paired, dtype=torch.long, device=latents.device)
    with autocast(config.device, config.bf16):
        # the near misses ride in the same batch, as extra rows repeating their scenes' noisy latents
        pred = model(torch.cat([noisy, noisy[rows]]), torch.cat([t, t[rows]]), states, mask)
    errors = F.mse_loss(pred.float(), torch.cat([target, target[rows]]), reduction="none").mean(dim=(1, 2, 3))
    per_sample, false_error = errors[: len(latents)], errors[len(latents) :]
    weights = min_snr_weights(noise_scheduler, t, config.min_snr_gamma, config.prediction_type, config.min_snr_floor)
    loss = (per_sample * weights).mean()
    if not paired:
        return loss, loss.item(), None
    ranking, ranked_right = near_miss_ranking(per_sample[rows], false_error, config.near_miss_margin)
    return loss + config.near_miss_weight * ranking, loss.item(), (ranking.item(), ranked_right.item())


def distillation_loss(model: ReadingUNet, teacher: ReadingUNet, noise_scheduler, config: DiffusionConfig, latents,
                      states, mask, empty_states, empty_mask):  # fmt: skip
    """Guidance distillation's loss (Meng et al., 2023, stage one): on the noised latents, the student given a scale
    w per row should say what the teacher says under classifier-free guidance at w, u + w (c - u), from its own two
    passes (the caption's c, the empty caption's u); min-SNR-weighted as the denoising loss. Returns the loss."""
    noise = torch.randn_like(latents)
    batch = latents.shape[0]
    t = torch.randint(0, config.num_train_timesteps, (batch,), device=latents.device)
    if config.distill_timesteps:  # only the sampler's own steps
        steps = torch.tensor(config.distill_timesteps, device=latents.device)
        t = steps[torch.randint(0, len(steps), (batch,), device=latents.device)]
    noisy, _ = noised(noise_scheduler, latents, noise, t)
    scale = guidance_scales(config, batch).to(latents.device)
    target = teacher_guided(teacher, config, noisy, t, states, mask, empty_states, empty_mask, scale)
    with autocast(config.device, config.bf16):
        pred = model(noisy, t, states, mask, scale)
    errors = F.mse_loss(pred.float(), target, reduction="none").mean(dim=(1, 2, 3))
    weights = min_snr_weights(noise_scheduler, t, config.min_snr_gamma, config.prediction_type, config.min_snr_floor)
    return (errors * weights).mean()


def _load_teacher(config: DiffusionConfig) -> ReadingUNet:
    """The frozen model whose guided prediction a distillation run teaches (its UNet and caption reader)."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(config.teacher, subfolder="unet", use_safetensors=True)
    folder = os.path.join(config.teacher, "caption_reader")
    reader = CaptionReader.from_pretrained(folder, use_safetensors=True) if os.path.isdir(folder) else None
    return ReadingUNet(unet, reader).to(config.device).eval().requires_grad_(False)


def _load_caption_reader(config: DiffusionConfig) -> CaptionReader | None:
    """init_from's reader, else a pre-trained one (`caption_reader_from`), else a fresh one of the asked depth;
    frozen when its learning-rate scale is 0."""
    own = os.path.join(config.init_from, "caption_reader") if config.init_from else ""
    folder = own if own and os.path.isdir(own) else config.caption_reader_from
    if folder:
        reader = CaptionReader.from_pretrained(folder, use_safetensors=True)
    elif config.caption_reader_layers > 0:
        reader = CaptionReader(layers=config.caption_reader_layers)
    else:
        return None
    return reader.requires_grad_(config.caption_reader_lr_scale > 0)


def _load_unet(config: DiffusionConfig):
    if config.init_from:
        from diffusers import UNet2DConditionModel

        unet = UNet2DConditionModel.from_pretrained(config.init_from, subfolder="unet", use_safetensors=True)
        if config.transformer_layers > unet.config.transformer_layers_per_block:
            unet = deepen_attention(unet, config.transformer_layers)
        if config.coordinates and unet.config.in_channels == unet.config.out_channels:
            unet = add_coordinates(unet)
        if config.teacher and not takes_guidance(unet):
            unet = add_guidance_input(unet)
        return unet
    unet = build_unet(
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        attention_head_dim=config.attention_head_dim,
        transformer_layers=config.transformer_layers,
    )
    return add_coordinates(unet) if config.coordinates else unet


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

    model = ReadingUNet(_load_unet(config), _load_caption_reader(config)).to(device).train()
    noise_scheduler = training_scheduler(config.num_train_timesteps, config.beta_schedule, config.prediction_type)
    ema = EMA(model, config.ema_decay)
    groups = model.parameter_groups(config.caption_reader_lr_scale)
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    previous = previous_training(config)
    images_before = previous["images_seen"]
    fresh = {"step": 0, "curve": previous["curve"], "loss_curve": [], "run_id": None}
    info = load_checkpoint(config.run_dir, model, ema, optimizer) or fresh
    step = info["step"]
    rng = np.random.default_rng([config.seed, step])

    ema_model = copy.deepcopy(model).eval().requires_grad_(False)
    pipe = ShapesDiffusionPipeline(
        autoencoder,
        ema_model.unet,
        sampling_scheduler(noise_scheduler),
        caption_reader=ema_model.caption_reader,
        text_encoder=text,
        # the saved model samples by default as its curve was measured
        default_steps=config.eval_steps,
        default_guidance=config.guidance_scale,
    )
    pipe.set_progress_bar_config(disable=True)
    params = sum(p.numel() for p in model.unet.parameters())
    reader_params = sum(p.numel() for p in model.caption_reader.parameters()) if model.caption_reader is not None else 0
    tracker = Tracker(config.mlflow, config.experiment, config.name, os.path.join(config.run_dir, "tb"))
    info["run_id"] = tracker.start(
        {**vars(config), "unet_params": params, "caption_reader_params": reader_params},
        resume_run_id=info.get("run_id"),
        tags={"stage": "diffusion", **training_tags(config)},
    )
    weights = config.category_weights or None
    teacher = _load_teacher(config) if config.teacher else None
    on_path = teacher is not None and config.distill_trajectories  # guidance taught on the sampler's own path
    if teacher is not None:
        empty_states, empty_mask = (x.to(device) for x in captions.lookup([""] * config.batch_size))
        sampler = sampling_scheduler(noise_scheduler)  # the distilling run's own, apart from the evaluation's
        unet_config = model.unet.config
        latent_shape = (unet_config.out_channels, unet_config.sample_size, unet_config.sample_size)
    started, seen_since_log = time.time(), time.time()
    window: list[tuple[float, float]] = []  # near-miss ranking loss and share ranked right, since the last log

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
            # on the sampler's path, a caption gives a row per step, and the pool's latents go unused
            rows = config.batch_size // config.eval_steps if on_path else config.batch_size
            latents, texts, near_misses = pool.batch(
                rng, rows, config.caption_dropout, config.paraphrase_prob, weights, config.near_miss_prob
            )
            paired = [i for i, false in enumerate(near_misses) if false]
            states, mask = captions.lookup(texts + [near_misses[i] for i in paired])
            latents, states, mask = latents.to(device), states.to(device), mask.to(device)
            set_scheduled_lr(optimizer, config, step, started)
            if on_path:
                empty = (empty_states[:rows], empty_mask[:rows])
                loss = trajectory_distillation_loss(model, teacher, noise_scheduler, config, states, mask, *empty,
                                                    latent_shape, sampler)  # fmt: skip
                denoising, ranked = loss.item(), None
            elif teacher is not None:
                loss = distillation_loss(model, teacher, noise_scheduler, config, latents, states, mask,
                                         empty_states[: len(latents)], empty_mask[: len(latents)])  # fmt: skip
                denoising, ranked = loss.item(), None
            else:
                loss, denoising, ranked = batch_loss(model, noise_scheduler, config, latents, states, mask, paired)
            if ranked:
                window.append(ranked)
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
                if window:  # how often the true caption already explains the latent better than its near miss
                    ranking_mean, right_share = np.mean(window, axis=0).tolist()
                    info.setdefault("near_miss_curve", []).append([step, round(right_share, 4)])
                    tracker.metrics({"near_miss_ranking": ranking_mean, "near_miss_ranked_right": right_share}, step)
                    bar.set_postfix(loss=f"{denoising:.4f}", img_s=f"{rate:.0f}", ranked=f"{right_share:.2f}")
                    window.clear()
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
        "caption_reader_params": reader_params,
        "curve": info["curve"],
        "loss_curve": info["loss_curve"],
        "near_miss_curve": info.get("near_miss_curve", []),
    }
    return finish_run(output, summary, tracker)
