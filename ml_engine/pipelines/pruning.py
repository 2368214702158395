"""Pruning schedules for ranked sampling: which candidates a sampler keeps denoising, and for how long.

A schedule is a tuple of stages (keep, after_step): after `after_step` sampler steps the critic judges each
image's candidates on their predicted x0 and only its best `keep` go on. "8@1,2@3,1@5" on 16 candidates denoises
16 for one step, 8 for two more, 2 for two more, and finishes one. The first steps fix the layout, so an early
verdict is nearly as good as a late one, and the time saved buys more candidates (docs/shapes-model.md).
The empty schedule ranks the finished latents. Written as text in configs and on the command line.
"""

from __future__ import annotations

from collections.abc import Sequence

Pruning = tuple[tuple[int, int], ...]


def parse_pruning(schedule: str | Sequence[Sequence[int]] | None) -> Pruning:
    """ "8@1,2@3,1@5" (or [[8, 1], [2, 3], [1, 5]], as a saved config holds it) -> ((8, 1), (2, 3), (1, 5)).
    Each stage keeps fewer candidates than the one before, at a later step."""
    if schedule is None or schedule == "":
        return ()
    if isinstance(schedule, str):
        try:
            stages = tuple(tuple(int(x) for x in stage.split("@")) for stage in schedule.split(","))
        except ValueError:
            raise ValueError(f"a pruning schedule reads like 8@1,2@3,1@5 (keep@after_step); got {schedule!r}") from None
    else:
        stages = tuple(tuple(int(x) for x in stage) for stage in schedule)
    if any(len(stage) != 2 or min(stage) < 1 for stage in stages):
        raise ValueError(f"each stage is keep@after_step, both at least 1; got {schedule!r}")
    later = zip(stages, stages[1:], strict=False)
    if any(keep <= next_keep or step >= next_step for (keep, step), (next_keep, next_step) in later):
        raise ValueError(f"each stage keeps fewer candidates, at a later step; got {schedule!r}")
    return stages  # type: ignore[return-value]


def format_pruning(stages: Pruning) -> str:
    return ",".join(f"{keep}@{step}" for keep, step in stages)


def applied(stages: Pruning, candidates: int, steps: int) -> Pruning:
    """The stages that prune a run of `candidates` over `steps` sampler steps: those before the last step that keep
    fewer than are left (so a call with fewer candidates than the model's default prunes less)."""
    kept, alive = [], candidates
    for keep, step in stages:
        if step < steps and keep < alive:
            kept.append((keep, step))
            alive = keep
    return tuple(kept)


def rows_steps(candidates: int, stages: Pruning, steps: int) -> int:
    """Latent rows x sampler steps an image costs (guidance doubles each row): the schedule's work, for comparing
    schedules; latency also pays a fixed cost per UNet call."""
    work, alive, done = 0, candidates, 0
    for keep, step in applied(stages, candidates, steps):
        work, alive, done = work + alive * (step - done), keep, step
    return work + alive * (steps - done)
