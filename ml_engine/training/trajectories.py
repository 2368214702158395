"""Guidance distillation on the sampler's own path: the states a student meets when it samples, not noised data.

Sessions 14 and 15 taught a one-pass student the teacher's guided prediction on training latents noised to a step.
Measured on the teacher's 8-step path, the student then had the first step but only half the second and a quarter of
the third, where guidance decides the layout: a noised training image at step 874 is not the state that guided
sampling has reached there (docs/shapes-model.md). Here each batch samples its captions along the teacher's own
trajectories, with the sampler the pipeline ships (UniPC, the run's `eval_steps`), and teaches every state met:
`steps` rows per caption, each labelled with the teacher's two-pass guided prediction, which the teacher computes
anyway to take the step. A share of the trajectories is driven by the student's one pass instead (as DAgger does
for imitation), so the student also learns the states its own small errors lead to; the teacher still labels them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from ml_engine.precision import autocast
from ml_engine.schedulers import min_snr_weights, sampling_scheduler


class TrajectoryRows(NamedTuple):
    """Every state met on a batch of trajectories, one row per (step, caption)."""

    noisy: torch.Tensor  # the sampler's model input at that step
    t: torch.Tensor
    caption_rows: torch.Tensor  # which caption (row of the states) each row belongs to
    scale: torch.Tensor  # its trajectory's guidance scale
    target: torch.Tensor  # the teacher's guided prediction there


def guidance_scales(config, rows: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A guidance scale to teach per row (or trajectory): uniform over `distill_scales`, exactly 1 (the conditional
    prediction) for the `distill_conditional_share`."""
    low, high = config.distill_scales
    scale = low + (high - low) * torch.rand(rows, generator=generator)
    scale[torch.rand(rows, generator=generator) < config.distill_conditional_share] = 1.0
    return scale


@torch.no_grad()
def teacher_guided(teacher, config, x, t, states, mask, empty_states, empty_mask, scale) -> torch.Tensor:
    """The teacher's classifier-free-guided prediction u + w (c - u) at each row's scale, from its two passes (the
    caption's c, the empty caption's u): what a distilled student's one pass should say."""
    with autocast(config.device, config.bf16):
        both = teacher(torch.cat([x, x]), torch.cat([t, t]), torch.cat([empty_states, states]),
                       torch.cat([empty_mask, mask])).float()  # fmt: skip
    uncond, cond = both.chunk(2)
    return uncond + scale.view(-1, 1, 1, 1) * (cond - uncond)


@torch.no_grad()
def sample_trajectories(model, teacher, sampler, config, states, mask, empty_states, empty_mask, scale, latent_shape,
                        generator: torch.Generator | None = None) -> TrajectoryRows:  # fmt: skip
    """Sample one trajectory per caption row of `states` at its `scale`, `config.eval_steps` steps, and return the
    states met with the teacher's guided prediction at each. The trajectories that `config.distill_student_share`
    picks step with the student's (`model`'s) one pass."""
    captions, device = states.shape[0], states.device
    scale = scale.to(device)
    student_driven = (torch.rand(captions, generator=generator) < config.distill_student_share).to(device)
    latents = torch.randn(captions, *latent_shape, generator=generator).to(device) * sampler.init_noise_sigma
    sampler.set_timesteps(config.eval_steps, device=device)
    met, ts, targets = [], [], []
    for t in sampler.timesteps:
        x = sampler.scale_model_input(latents, t)
        step = t.expand(captions)
        guided = teacher_guided(teacher, config, x, step, states, mask, empty_states, empty_mask, scale)
        met.append(x)
        ts.append(step)
        targets.append(guided)
        drive = guided
        if student_driven.any():
            with autocast(config.device, config.bf16):
                own = model(x, step, states, mask, scale).float()
            drive = torch.where(student_driven.view(-1, 1, 1, 1), own, guided)
        latents = sampler.step(drive, t, latents).prev_sample
    rows = torch.arange(captions, device=device).repeat(len(met))
    return TrajectoryRows(torch.cat(met), torch.cat(ts), rows, scale[rows], torch.cat(targets))


def trajectory_distillation_loss(model, teacher, noise_scheduler, config, states, mask, empty_states, empty_mask,
                                 latent_shape, sampler=None, generator: torch.Generator | None = None):  # fmt: skip
    """The student's one pass against the teacher's guided prediction on every state of the teacher's (or, for a
    share, its own) trajectories for these captions; min-SNR-weighted as the denoising loss. `states` holds one row
    per caption: a batch of `config.batch_size` rows takes batch_size / eval_steps captions."""
    sampler = sampler or sampling_scheduler(noise_scheduler)
    scale = guidance_scales(config, states.shape[0], generator)
    rows = sample_trajectories(model, teacher, sampler, config, states, mask, empty_states, empty_mask, scale,
                               latent_shape, generator)  # fmt: skip
    with autocast(config.device, config.bf16):
        pred = model(rows.noisy, rows.t, states[rows.caption_rows], mask[rows.caption_rows], rows.scale)
    errors = F.mse_loss(pred.float(), rows.target, reduction="none").mean(dim=(1, 2, 3))
    weights = min_snr_weights(noise_scheduler, rows.t, config.min_snr_gamma, config.prediction_type,
                              config.min_snr_floor)  # fmt: skip
    return (errors * weights).mean()
