"""Noise schedules: DDPM for training (Ho et al., 2020), DPM-Solver++ 2M for sampling (Lu et al.,
2022), sharing one beta schedule and prediction type."""

from __future__ import annotations

from diffusers import DDPMScheduler, DPMSolverMultistepScheduler


def training_scheduler(num_train_timesteps: int, beta_schedule: str, prediction_type: str) -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, prediction_type=prediction_type
    )


def sampling_scheduler(train: DDPMScheduler) -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(
        num_train_timesteps=train.config.num_train_timesteps,
        beta_schedule=train.config.beta_schedule,
        prediction_type=train.config.prediction_type,
        algorithm_type="dpmsolver++",
        solver_order=2,
        timestep_spacing="trailing",  # start from pure noise, as the model was trained at t = T-1
    )
