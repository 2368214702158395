"""Model version writes: registering a pipeline folder, and bootstrapping rows for the bundled models."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction

from modelops.models import ModelVersion
from modelops.runtime import model_folder, pipeline_load

logger = logging.getLogger(__name__)
DEMO_VERSION_NAME = "untrained-demo"


def _metrics(source: str) -> dict:
    """accuracy and loss left beside the weights by training: metrics.json, else ml_engine's training.json
    (accuracy = the evaluator's last "overall" prompt-following score, loss = the last training loss)."""
    folder = model_folder(source)
    if (folder / "metrics.json").is_file():
        data = json.loads((folder / "metrics.json").read_text())
        return {key: float(data[key]) for key in ("accuracy", "loss") if data.get(key) is not None}
    if (folder / "training.json").is_file():
        data = json.loads((folder / "training.json").read_text())
        metrics = {}
        if data.get("curve") and data["curve"][-1].get("overall") is not None:
            metrics["accuracy"] = float(data["curve"][-1]["overall"])
        if data.get("loss_curve"):
            metrics["loss"] = float(data["loss_curve"][-1][1])
        return metrics
    return {}


def model_version_register(*, version_name: str, source: str, make_current: bool = False) -> ModelVersion:
    """Load the pipeline once (outside any transaction: it takes seconds) to record what it supports."""
    pipe = pipeline_load(source)
    with transaction.atomic():
        version = ModelVersion.objects.create(
            version_name=version_name,
            source=source,
            supported_sizes=[list(size) for size in pipe.supported_sizes],
            default_steps=pipe.default_steps,
            default_guidance=pipe.default_guidance,
            sampler_name=pipe.sampler_name,
            **_metrics(source),
        )
        if make_current:
            model_version_make_current(version=version)
    return version


@transaction.atomic
def model_version_make_current(*, version: ModelVersion) -> ModelVersion:
    ModelVersion.objects.filter(is_current=True).exclude(pk=version.pk).update(is_current=False)
    version.is_current = True
    version.save(update_fields=["is_current"])
    return version


def model_version_bootstrap(*, demo_fallback_dir: str | None = None) -> list[ModelVersion]:
    """Rows for every bundled model and every name in T2I_MODEL_PATHS; the default one is made current.

    With `demo_fallback_dir` and no model at all (the bundled one is still being trained), a tiny
    untrained pipeline is saved there and registered, so the studio still runs end to end.
    """
    from ml_engine.pipelines.loader import bundled_models

    names = sorted(set(bundled_models()) | set(settings.T2I_MODEL_PATHS))
    created = [
        model_version_register(version_name=name, source=name)
        for name in names
        if not ModelVersion.objects.filter(version_name=name).exists()
    ]
    if demo_fallback_dir and not ModelVersion.objects.exists():
        from ml_engine.pipelines.tiny import save_tiny_pipeline

        logger.warning("no trained model found: registering an untrained demo pipeline (images will be noise)")
        save_tiny_pipeline(demo_fallback_dir)
        created.append(model_version_register(version_name=DEMO_VERSION_NAME, source=demo_fallback_dir))
    current = ModelVersion.objects.filter(is_current=True).first()
    trained = ModelVersion.objects.exclude(version_name=DEMO_VERSION_NAME)
    if current is None or (current.version_name == DEMO_VERSION_NAME and trained.exists()):
        # the demo stand-in gives way as soon as a real model is registered
        default = (
            trained.filter(version_name=settings.T2I_DEFAULT_MODEL).first()
            or trained.order_by("created_at").first()
            or ModelVersion.objects.order_by("created_at").first()
        )
        if default:
            model_version_make_current(version=default)
    return created
