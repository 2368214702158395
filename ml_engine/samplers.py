"""Samplers by the names AUTOMATIC1111 gives them, each a diffusers scheduler built from a model's own schedule.

A1111's names are what integrators and their plug-ins send (`sampler_name`), so the studio uses them everywhere:
the job API, the A1111 API and the model pages. Each maps onto the diffusers scheduler that implements the same
solver (the mapping diffusers documents for A1111 users, docs "Schedulers" overview):

    UniPC       UniPCMultistepScheduler (B(h) = e^h - 1, order 2: the Shapes model's tuned sampler)
    DPM++ 2M    DPMSolverMultistepScheduler (dpmsolver++, order 2)
    Euler a     EulerAncestralDiscreteScheduler (fresh noise every step, drawn per image from its own seed)
    Euler       EulerDiscreteScheduler
    DDIM        DDIMScheduler (eta 0)

The model's beta schedule, timestep count and prediction type come from its saved scheduler config; the spacing
is "trailing" so that every sampler starts from pure noise at t = T - 1, as the models were trained.

    from ml_engine.samplers import sampler_scheduler
    scheduler = sampler_scheduler("Euler a", pipe.scheduler.config)
"""

from __future__ import annotations

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    UniPCMultistepScheduler,
)

SCHEDULERS = {
    "UniPC": (UniPCMultistepScheduler, {"solver_type": "bh2", "solver_order": 2}),
    "DPM++ 2M": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "Euler a": (EulerAncestralDiscreteScheduler, {}),
    "Euler": (EulerDiscreteScheduler, {}),
    "DDIM": (DDIMScheduler, {"clip_sample": False, "set_alpha_to_one": False}),
}
SAMPLER_NAMES = tuple(SCHEDULERS)
# what each scheduler class is called when it is a model's own (a saved folder names its scheduler's class)
CLASS_SAMPLERS = {cls.__name__: name for name, (cls, _) in SCHEDULERS.items()}
_SCHEDULE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type")


def check_sampler(name: str, allowed: tuple[str, ...] | list[str]) -> None:
    if name not in allowed:
        offered = ", ".join(allowed) or "none (this model does not sample step by step)"
        raise ValueError(f"unknown sampler {name!r}: this model offers {offered}")


def sampler_scheduler(name: str, schedule) -> object:
    """A fresh scheduler for sampler `name` over `schedule` (a scheduler config, or a dict holding its keys)."""
    check_sampler(name, SAMPLER_NAMES)
    cls, options = SCHEDULERS[name]
    config = {key: schedule[key] for key in _SCHEDULE_KEYS if key in schedule and schedule[key] is not None}
    return cls(**config, timestep_spacing="trailing", **options)


def is_ancestral(scheduler) -> bool:
    """Whether the scheduler draws fresh noise at each step (it then needs a generator per image)."""
    return isinstance(scheduler, EulerAncestralDiscreteScheduler)


def own_sampler(scheduler) -> str:
    """The A1111 name of a model's saved scheduler, or its class name without the suffix."""
    return CLASS_SAMPLERS.get(type(scheduler).__name__, type(scheduler).__name__.removesuffix("Scheduler"))
