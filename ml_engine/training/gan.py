"""Train the Shapes GAN (DF-GAN fusion blocks + AttnGAN word attention) on autoencoder latents.

Losses (Tao et al., 2022, DF-GAN): hinge loss; the discriminator also sees real latents with a
mismatched caption as fake, and a matching-aware zero-centred gradient penalty (MA-GP) on real,
matching pairs, taken with respect to both the latent and the sentence embedding, smooths the
discriminator around the real data so the generator gets useful gradients without spectral
normalisation. Two time-scale learning rates, Adam betas (0, 0.9). The generator's EMA is what gets
evaluated and shipped; every `eval_every` steps it generates a fixed canonical prompt set and the
evaluator scores it (curve in MLflow and in training.json).

    python -m ml_engine train --config configs/gan-v3.json [--device cuda] [--max-minutes M]
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

from ml_engine.config import GANConfig
from ml_engine.evaluation.prompts import prompt_set
from ml_engine.evaluation.run import evaluate_pipeline
from ml_engine.images import grid
from ml_engine.models.gan import GANDiscriminator, GANGenerator, GANPair, sentence_embedding
from ml_engine.pipelines.gan import ShapesGANPipeline
from ml_engine.precision import autocast
from ml_engine.provenance import training_tags
from ml_engine.tracking import Tracker
from ml_engine.training.common import (
    EMA,
    after_step,
    finish_run,
    load_checkpoint,
    lr_at,
    optimizer_step,
    save_checkpoint,
)
from ml_engine.training.data import latent_run_start

DISCRIMINATOR = "discriminator"


def build_pair(config: GANConfig, latent_channels: int) -> GANPair:
    generator = GANGenerator(
        noise_dim=config.noise_dim,
        latent_channels=latent_channels,
        widths=config.generator_widths,
        cond_dim=config.cond_dim,
    )
    discriminator = GANDiscriminator(
        latent_channels=latent_channels, widths=config.discriminator_widths, spectral_norm=config.spectral_norm
    )
    return GANPair(generator, discriminator)


def mismatched_captions(texts: list[str], negatives: list[str | None]) -> list[str]:
    """Each image's wrong caption: its near miss where it has one, else the previous image's caption."""
    return [negative or texts[i - 1] for i, negative in enumerate(negatives)]


def hard_negative_share(step: int, config: GANConfig) -> float:
    """A fresh discriminator first learns from random mismatches, then more and more from near misses."""
    ramp = min(1.0, step / config.hard_negative_warmup) if config.hard_negative_warmup else 1.0
    return config.hard_negative_prob * ramp


def discriminator_loss(
    pair: GANPair, real, fake, sentence, words, mask, mismatch, config: GANConfig
) -> tuple[torch.Tensor, dict]:
    """`mismatch`: (sentence, words, mask) of a caption that each real latent does not satisfy."""
    disc = pair.discriminator
    real = real.detach().requires_grad_(True)
    sentence_gp = sentence.detach().requires_grad_(True)
    features_real = disc.features(real)
    d_real = disc.judge(features_real, sentence_gp, words, mask)
    d_fake = disc(fake.detach(), sentence, words, mask)
    # matching-aware: the real image with a caption it does not satisfy is fake
    d_mismatch = disc.judge(features_real, *mismatch)
    hinge = (
        F.relu(1 - d_real).mean()
        + (1 - config.mismatch_weight) * F.relu(1 + d_fake).mean()
        + config.mismatch_weight * F.relu(1 + d_mismatch).mean()
    )
    grads = torch.autograd.grad(d_real.float().sum(), (real, sentence_gp), create_graph=True)
    grad_norm = torch.cat([g.flatten(1) for g in grads], dim=1).norm(dim=1)
    penalty = config.gp_weight * grad_norm.pow(config.gp_power).mean()
    stats = {"d_real": d_real.mean().item(), "d_fake": d_fake.mean().item(), "d_mismatch": d_mismatch.mean().item()}
    return hinge + penalty, {**stats, "ma_gp": penalty.item()}


def generator_loss(
    pair: GANPair, fake, sentence, words, mask, mismatch, near: torch.Tensor, config: GANConfig
) -> tuple[torch.Tensor, dict]:
    """Fool the discriminator; and, with `near_miss_margin`, let the caption outscore its near miss by a margin.

    The adversarial term alone rewards realism first: a discriminator that has learnt to reject a real
    image under a near miss still scores a fake mostly by how real it looks, so a generator can bind the
    wrong colours and pay little. The margin term asks D's opinion on exactly that difference (the true
    caption against one with the colours swapped, the relation turned, the count changed), a ranking loss
    in the manner of XMC-GAN's contrastive generator loss (Zhang et al., 2021).
    """
    disc = pair.discriminator
    features = disc.features(fake)
    d_fake = disc.judge(features, sentence, words, mask).float()
    loss = -d_fake.mean()
    if not config.near_miss_margin or not near.any():
        return loss, {}
    d_wrong = disc.judge(features[near], *(x[near] for x in mismatch)).float()
    ranking = F.relu(config.near_miss_margin + d_wrong - d_fake[near]).mean()
    return loss + config.near_miss_weight * ranking, {"g_near_miss_ranking": ranking.item()}


def train_gan(config: GANConfig) -> str:
    device = config.device
    autoencoder, pool, text, captions, caption_file = latent_run_start(
        config, config.seed if config.pool_seed < 0 else config.pool_seed
    )

    pair = build_pair(config, autoencoder.config.latent_channels)
    if config.init_from:
        pair.generator = GANGenerator.from_pretrained(config.init_from, subfolder="generator", use_safetensors=True)
        # a generator beside a fresh discriminator stalls (seen in gan-v2): continue the game, not half of it
        if os.path.isdir(os.path.join(config.init_from, DISCRIMINATOR)):
            pair.discriminator = GANDiscriminator.from_pretrained(
                config.init_from, subfolder=DISCRIMINATOR, use_safetensors=True
            )
    pair = pair.to(device).train()
    ema = EMA(pair, config.ema_decay)
    optimizer = torch.optim.Adam(
        [
            {"params": pair.generator.parameters(), "lr": config.lr, "base_lr": config.lr},
            {"params": pair.discriminator.parameters(), "lr": config.d_lr, "base_lr": config.d_lr},
        ],
        betas=tuple(config.betas),
    )
    info = load_checkpoint(config.run_dir, pair, ema, optimizer) or {
        "step": 0,
        "curve": [],
        "loss_curve": [],
        "run_id": None,
    }
    step = info["step"]
    rng = np.random.default_rng([config.seed, step])

    ema_pair = copy.deepcopy(pair).eval().requires_grad_(False)
    pipe = ShapesGANPipeline(ema_pair.generator, autoencoder, text_encoder=text, bf16_decode=True)
    pipe.set_progress_bar_config(disable=True)
    g_params = sum(p.numel() for p in pair.generator.parameters())
    d_params = sum(p.numel() for p in pair.discriminator.parameters())
    tracker = Tracker(config.mlflow, config.experiment, config.name, os.path.join(config.run_dir, "tb"))
    info["run_id"] = tracker.start(
        {**vars(config), "generator_params": g_params, "discriminator_params": d_params},
        resume_run_id=info.get("run_id"),
        tags={"stage": "gan", **training_tags(config)},
    )
    weights = config.category_weights or None
    started, seen_since_log = time.time(), time.time()

    def evaluate_and_log():
        ema.copy_to(ema_pair)
        prompts = prompt_set(config.eval_per_category, seed=2024)
        result = evaluate_pipeline(pipe, prompts, list(range(config.eval_seeds)), steps=1, guidance=1.0)
        sheet = grid(result.images[: 8 * 8 * config.eval_seeds : config.eval_seeds], columns=8)
        info["curve"].append({"step": step, "images": step * config.batch_size, **result.scores})
        tracker.metrics({f"eval/{k}": v for k, v in result.scores.items()}, step)
        tracker.image(sheet, f"samples/step_{step:07d}.png")
        tqdm.write(f"step {step}: " + json.dumps({k: round(v, 3) for k, v in result.scores.items()}))

    def checkpoint(with_captions: bool):
        save_checkpoint(config.run_dir, pair, ema, optimizer, {**info, "step": step})
        if with_captions:  # large (GBs late in a run): saved rarely, unseen captions re-encode
            captions.save(caption_file)

    bar = tqdm(total=config.max_steps, initial=step, desc="gan", dynamic_ncols=True)
    try:
        while step < config.max_steps:
            real, texts, negatives = pool.batch(
                rng, config.batch_size, 0.0, config.paraphrase_prob, weights, hard_negative_share(step, config)
            )
            states, mask = captions.lookup(texts)
            real, states, mask = real.to(device), states.to(device), mask.to(device)
            sentence = sentence_embedding(states, mask)
            wrong_states, wrong_mask = (x.to(device) for x in captions.lookup(mismatched_captions(texts, negatives)))
            mismatch = (sentence_embedding(wrong_states, wrong_mask), wrong_states, wrong_mask)
            near = torch.tensor([n is not None for n in negatives], device=device)  # rows whose mismatch is a near miss
            noise = torch.randn(real.shape[0], config.noise_dim, device=device)
            for group in optimizer.param_groups:
                scale = lr_at(step, 1.0, config.warmup_steps, config.max_steps, config.min_lr_ratio)
                group["lr"] = group["base_lr"] * scale

            # discriminator step (the generator's output is detached: only D gets gradients)
            with autocast(device, config.bf16):
                fake = pair.generator(noise, states, mask)
                d_loss, stats = discriminator_loss(pair, real, fake, sentence, states, mask, mismatch, config)
            optimizer_step(optimizer, d_loss)

            # generator step (D frozen, so its parameters get no gradient and Adam leaves them alone)
            pair.discriminator.requires_grad_(False)
            with autocast(device, config.bf16):
                fake = pair.generator(noise, states, mask)
                g_loss, g_stats = generator_loss(pair, fake, sentence, states, mask, mismatch, near, config)
            optimizer_step(optimizer, g_loss, pair.generator.parameters(), config.grad_clip)
            pair.discriminator.requires_grad_(True)
            ema.update(pair, step)
            step += 1
            bar.update(1)

            if step % config.log_every == 0:
                rate = config.log_every * config.batch_size / (time.time() - seen_since_log)
                seen_since_log = time.time()
                bar.set_postfix(d=f"{d_loss.item():.3f}", g=f"{g_loss.item():.3f}", img_s=f"{rate:.0f}")
                info["loss_curve"].append([step, round(d_loss.item(), 5), round(g_loss.item(), 5)])
                tracker.metrics(
                    {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "img_per_s": rate, **stats, **g_stats}, step
                )
            if after_step(step, config, started, evaluate_and_log, checkpoint):
                break
    finally:
        bar.close()

    if step and (not info["curve"] or info["curve"][-1]["step"] != step):
        evaluate_and_log()
    ema.copy_to(ema_pair)
    output = os.path.expanduser(config.output_dir or os.path.join(config.run_dir, "final"))
    # the discriminator ships too: it ranks candidates at sampling time, and a later run resumes the game from it
    shipped = ShapesGANPipeline(
        ema_pair.generator,
        autoencoder,
        discriminator=pair.discriminator,
        text_encoder=text,
        bf16_decode=True,
        candidates=config.candidates,
    )
    shipped.save_pretrained(output, safe_serialization=True)
    summary = {
        "config": vars(config),
        "step": step,
        "images_seen": step * config.batch_size,
        "generator_params": g_params,
        "discriminator_params": d_params,
        "curve": info["curve"],
        "loss_curve": info["loss_curve"],
    }
    return finish_run(output, summary, tracker)
