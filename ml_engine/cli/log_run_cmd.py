"""`python -m ml_engine log-run --config FILE --summary FILE [--evaluation FILE]`: record in MLflow a run that
trained where MLflow could not be reached (a lent GPU machine, `train --no-mlflow`).

Its config becomes the parameters, its alignment curve and loss the metrics at their steps, and the summary
and evaluation files the artifacts. A continued run's summary carries the curve of the runs before it; only
the points past the images its starting model had seen are logged.
"""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("log-run", help="record in MLflow a run that trained without it (e.g. on a lent GPU)")
    p.add_argument("--config", required=True, help="the JSON config the run trained with")
    p.add_argument("--summary", required=True, help="its training.json (or checkpoint state): curve, loss_curve")
    p.add_argument("--evaluation", help="an `evaluate` JSON of the result, kept as an artifact")
    p.add_argument("--note", default="", help="a line on what happened to the run, kept as a tag")
    p.set_defaults(func=run)


def new_points(curve: list[dict], images_before: int) -> list[dict]:
    """The curve points this run added (a continued model's curve starts with its predecessors')."""
    return [point for point in curve if point["images"] > images_before]


def run(args) -> int:
    from ml_engine.config import load_config
    from ml_engine.provenance import training_tags
    from ml_engine.tracking import Tracker
    from ml_engine.training.diffusion import previous_training

    config = load_config(args.config)
    with open(args.summary) as f:
        summary = json.load(f)
    images_before = summary.get("images_seen_before")
    if images_before is None:  # a checkpoint's state: the model the run started from says what came before
        images_before = previous_training(config)["images_seen"]
    tracker = Tracker(True, config.experiment, config.name)
    tags = {"stage": config.kind, "logged_after_training": "true", **training_tags(config)}
    if args.note:
        tags["note"] = args.note
    run_id = tracker.start(vars(config), tags=tags)
    points = new_points(summary.get("curve", []), images_before)
    for point in points:
        scores = {f"eval/{k}": v for k, v in point.items() if k not in ("step", "images")}
        tracker.metrics({**scores, "images_seen": point["images"]}, point["step"])
    for step, loss in summary.get("loss_curve", []):
        tracker.metrics({"loss": loss}, step)
    tracker.artifact(args.summary)
    if args.evaluation:
        tracker.artifact(args.evaluation)
    tracker.end()
    print(
        f"logged {config.name}: {len(points)} curve points, {len(summary.get('loss_curve', []))} losses, run {run_id}"
    )
    return 0
