"""An evaluation run: score a pipeline's alignment per category and record it in MLflow and TensorBoard.

The run (experiment "evaluation") holds the parameters, one metric per category plus `overall`, a grid
of the first samples, the code commit and, when a registered version was evaluated, its name and
number; the scores are also written onto that model version as `eval.<category>` tags, which is what
the promotion gate compares. Scoring follows GenEval (Ghosh et al., 2023), see evaluation/scoring.py.

    from ml_engine.evaluation.tracked import evaluate_and_track
    result = evaluate_and_track(pipe, registry=Registry(), version=3, per_category=4, seeds=1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class TrackedEvaluation:
    scores: dict[str, float]  # per category and "overall", 0..1
    run_id: str | None
    images: int
    seconds: float


def evaluate_and_track(
    pipe,
    *,
    registry=None,
    version: int | None = None,
    per_category: int = 4,
    seeds: int = 1,
    steps: int | None = None,
    guidance: float | None = None,
    prompt_seed: int = 1,
    tensorboard_dir: str | None = None,
    progress=None,
) -> TrackedEvaluation:
    from ml_engine.evaluation.prompts import prompt_set
    from ml_engine.evaluation.run import evaluate_pipeline
    from ml_engine.images import grid
    from ml_engine.registry import code_commit

    steps = steps or pipe.default_steps
    guidance = pipe.default_guidance if guidance is None else guidance
    prompts = prompt_set(per_category, seed=prompt_seed)
    result = evaluate_pipeline(pipe, prompts, list(range(seeds)), steps, guidance, progress=progress)
    run_id = None
    if registry is not None:
        tags = {"stage": "evaluation", "code_commit": code_commit()}
        if version is not None:
            tags |= {"model_name": registry.model_name, "model_version": str(version)}
        run_name = f"eval-{registry.model_name}-v{version}" if version is not None else "eval"
        run_id = registry.run_create(experiment="evaluation", run_name=run_name, tags=tags)
        client = registry.client
        params = {"per_category": per_category, "seeds": seeds, "steps": steps, "guidance": guidance}
        for key, value in {**params, "prompt_seed": prompt_seed, "images": len(result.images)}.items():
            client.log_param(run_id, key, str(value))
        for key, value in result.scores.items():
            client.log_metric(run_id, f"eval/{key}", value, step=0)
        client.log_image(run_id, grid(result.images[:: max(seeds, 1)][:64], columns=8), "samples/evaluation.png")
        client.set_terminated(run_id)
        if version is not None:
            scores_record(registry, version=version, scores=result.scores, run_id=run_id)
    if tensorboard_dir:
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(tensorboard_dir, exist_ok=True)
        writer = SummaryWriter(tensorboard_dir)
        for key, value in result.scores.items():
            writer.add_scalar(f"eval/{key}", value, 0)
        writer.close()
    return TrackedEvaluation(result.scores, run_id, len(result.images), result.seconds)


def scores_record(registry, *, version: int, scores: dict[str, float], run_id: str | None) -> None:
    """The scores onto the model version (what the promotion gate reads), with the run that measured them."""
    registry.version_tag(version, {f"eval.{k}": round(v, 6) for k, v in scores.items()})
    if run_id:
        registry.version_tag(version, {"eval_run_id": run_id})
