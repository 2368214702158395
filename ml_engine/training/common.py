"""What every training loop shares: seeding, the learning-rate schedule, EMA weights and
resumable checkpoints.

Checkpoints hold only safetensors (model, EMA, optimizer moments) and JSON (step, RNG state,
MLflow run id, the evaluation curve): nothing is pickled. They are written atomically to
<cache>/runs/<name>/checkpoint, outside the repository, so a stopped run resumes where it was.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(step: int, base_lr: float, warmup: int, max_steps: int, min_ratio: float) -> float:
    if step < warmup:
        return base_lr * (step + 1) / warmup
    if min_ratio >= 1.0:
        return base_lr
    progress = min(1.0, (step - warmup) / max(1, max_steps - warmup))
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def schedule_step(
    step: int, warmup: int, max_steps: int, elapsed_minutes: float, max_minutes: float, by_time: bool
) -> int:
    """The step the learning-rate schedule is read at: the step itself, or, when the decay runs by time, as far
    along as the share of the time budget spent if that is further (the warm-up always counts real steps)."""
    if not (by_time and max_minutes) or step < warmup:
        return step
    return max(step, int(min(1.0, elapsed_minutes / max_minutes) * max_steps))


class EMA:
    """Exponential moving average of a model's parameters (kept in float32)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))  # warm start: early EMA follows the model
        state = model.state_dict()
        floating = [k for k, v in state.items() if v.dtype.is_floating_point]
        # one fused call, not one kernel per tensor: on a GPU the per-tensor loop cost as much as a small step
        torch._foreach_lerp_([self.shadow[k] for k in floating], [state[k].float() for k in floating], 1 - decay)
        for k, v in state.items():
            if not v.dtype.is_floating_point:
                self.shadow[k].copy_(v)

    def copy_to(self, model: torch.nn.Module) -> None:
        model.load_state_dict(self.shadow)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    entries: dict[int, dict] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        index, key = name.split(".", 1)
        entries.setdefault(int(index), {})[key] = value
    return {"state": entries, "param_groups": meta["param_groups"]}


def save_checkpoint(
    run_dir: str, model: torch.nn.Module, ema: EMA | None, optimizer: torch.optim.Optimizer, info: dict
) -> None:
    final = os.path.join(run_dir, "checkpoint")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(tmp, "model.safetensors"))
    if ema is not None:
        save_file(ema.shadow, os.path.join(tmp, "ema.safetensors"))
    tensors, meta = _optimizer_tensors(optimizer)
    save_file(tensors, os.path.join(tmp, "optimizer.safetensors"))
    rng = {"torch": torch.get_rng_state().tolist(), "numpy": np.random.get_state()[1].tolist()}
    with open(os.path.join(tmp, "state.json"), "w") as f:
        json.dump({**info, "optimizer": meta, "rng": rng}, f)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def load_checkpoint(
    run_dir: str, model: torch.nn.Module, ema: EMA | None, optimizer: torch.optim.Optimizer
) -> dict | None:
    """Restore a run's last checkpoint into model/EMA/optimizer; returns its info, or None if there is none."""
    folder = os.path.join(run_dir, "checkpoint")
    if not os.path.isfile(os.path.join(folder, "state.json")):
        return None
    with open(os.path.join(folder, "state.json")) as f:
        info = json.load(f)
    model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
    if ema is not None:
        ema.shadow = load_file(os.path.join(folder, "ema.safetensors"))
    optimizer.load_state_dict(
        _optimizer_state(load_file(os.path.join(folder, "optimizer.safetensors")), info.pop("optimizer"))
    )
    rng = info.pop("rng")
    torch.set_rng_state(torch.tensor(rng["torch"], dtype=torch.uint8))
    return info


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, clip_params=None, clip: float = 0.0) -> None:
    """Backward and one optimizer step, clipping the gradient norm of `clip_params` to `clip` when both are given."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_params is not None and clip:
        torch.nn.utils.clip_grad_norm_(clip_params, clip)
    optimizer.step()


def set_scheduled_lr(optimizer: torch.optim.Optimizer, config, step: int, started: float) -> float:
    """Set and return the learning rate of `step`: warm-up, then cosine decay by steps or, with `decay_by_time`,
    by the share of `max_minutes` spent since `started`, whichever is further along."""
    minutes = (time.time() - started) / 60
    at = schedule_step(step, config.warmup_steps, config.max_steps, minutes, config.max_minutes, config.decay_by_time)
    lr = lr_at(at, config.lr, config.warmup_steps, config.max_steps, config.min_lr_ratio)
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)  # a module added to a trained model may learn faster
    return lr


def after_step(
    step: int, config, started: float, evaluate: Callable[[], None], checkpoint: Callable[[bool], None]
) -> bool:
    """A training loop's bookkeeping once step `step` is done: evaluate every `eval_every` steps; checkpoint every
    `checkpoint_every`, at the last step and when the time budget is spent, calling `checkpoint(thorough)`, where
    thorough (every tenth checkpoint and the last) also saves what is slow to save. True means stop: the time
    budget is spent."""
    if step % config.eval_every == 0:
        evaluate()
    timed_out = bool(config.max_minutes) and (time.time() - started) / 60 > config.max_minutes
    last = timed_out or step == config.max_steps
    if step % config.checkpoint_every == 0 or last:
        checkpoint(last or step % (10 * config.checkpoint_every) == 0)
    if timed_out:
        tqdm.write(f"stopping after {config.max_minutes} minutes at step {step}; resume with the same command")
    return timed_out


def finish_run(output: str, summary: dict, tracker) -> str:
    """Keep the run's summary (config, curves, images seen) beside the saved model and in MLflow; end the run."""
    with open(os.path.join(output, "training.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    tracker.dict(summary, "training.json")
    tracker.end()
    return output
