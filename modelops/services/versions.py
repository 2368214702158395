"""Model version writes: registering pipelines, mirroring the MLflow registry, bootstrapping a fresh install.

The registry holds versions and aliases; `model_version_sync` copies them (aliases, scores, loss, run
links, what each pipeline supports) into ModelVersion rows, and `is_current` follows the `champion` alias.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from modelops.models import ModelChange, ModelVersion
from modelops.runtime import model_folder, pipeline_load, registry_client, registry_source

logger = logging.getLogger(__name__)
DEMO_VERSION_NAME = "untrained-demo"
CHAMPION, CHALLENGER = "champion", "challenger"
_DISTRIBUTION_METRICS = {
    "fid": "fid",
    "kid": "kid",
    "is": "inception_score",
    "precision": "precision",
    "recall": "recall",
}


def _metrics(source: str) -> dict:
    """accuracy and loss left beside the weights: metrics.json (the bundled models ship their full evaluation's
    overall there, and where it came from), else ml_engine's training.json (accuracy = the evaluator's last "overall"
    prompt-following score on the run's small periodic set, loss = the last training loss)."""
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


def _mirror_fields(registered, registry) -> dict:
    """ModelVersion fields from a registry version (its tags carry everything the web side needs)."""
    scores, metrics, info = registered.scores, registered.metrics, registered.pipeline_info
    fields = {
        "registry_name": registered.name,
        "registry_version": registered.version,
        "aliases": registered.aliases,
        "run_id": registered.run_id or "",
        "run_url": registry.run_url(registered.run_id, settings.T2I_MLFLOW_UI_URL) if registered.run_id else "",
        "artifact_sha256": registered.sha256,
        "alignment": scores,
    }
    if "overall" in scores:
        fields["accuracy"] = scores["overall"]
    if "loss" in metrics:
        fields["loss"] = metrics["loss"]
    for tag, field in _DISTRIBUTION_METRICS.items():
        if tag in metrics:
            fields[field] = metrics[tag]
    for key in ("supported_sizes", "default_steps", "default_guidance", "sampler_name"):
        if key in info:
            fields[key] = info[key]
    return fields


@transaction.atomic
def model_version_sync(*, actor=None) -> list[ModelVersion]:
    """Mirror every registry version into a row (created when missing) and make the champion current.

    Returns the rows it created. Idempotent; `manage.py sync_models` runs it, and so does every promotion.
    """
    registry = registry_client()
    created = []
    for registered in registry.versions():
        fields = _mirror_fields(registered, registry)
        row = ModelVersion.objects.filter(registry_name=registered.name, registry_version=registered.version).first()
        if row is None:
            row = ModelVersion.objects.create(
                version_name=f"{registered.name}-v{registered.version}",
                source=registry_source(model_name=registered.name, version=registered.version),
                **fields,
            )
            if registered.created_ms:  # the registry's time, not the mirror's (auto_now_add ignores a value)
                stamp = datetime.fromtimestamp(registered.created_ms / 1000, tz=UTC)
                ModelVersion.objects.filter(pk=row.pk).update(created_at=stamp)
                row.created_at = stamp
            created.append(row)
        else:
            if row.artifact_sha256 and fields["artifact_sha256"] != row.artifact_sha256:
                # the hash was pinned when the version was first seen; a changed tag is refused at load time
                logger.warning("%s: the registry's sha256 tag changed; keeping the pinned hash", row.version_name)
            fields["artifact_sha256"] = row.artifact_sha256 or fields["artifact_sha256"]
            for key, value in fields.items():
                setattr(row, key, value)
            row.save()
    # JSON "contains" lookups are not available on SQLite (the embedded mode): filter in Python
    mirrored = ModelVersion.objects.filter(registry_name=registry.model_name)
    champion = next((row for row in mirrored if CHAMPION in row.aliases), None)
    if champion is not None and not champion.is_current:
        model_version_make_current(version=champion)
    if created:
        ModelChange.objects.create(
            action=ModelChange.Action.SYNC, actor=actor, reason=f"mirrored {len(created)} new registry version(s)"
        )
    return created


def _register_in_registry(*, version: ModelVersion, alias: str | None) -> ModelVersion:
    """Put an unregistered row's folder into the registry and link the row to the new registry version."""
    registry = registry_client()
    info = {
        "supported_sizes": version.supported_sizes,
        "default_steps": version.default_steps,
        "default_guidance": version.default_guidance,
        "sampler_name": version.sampler_name,
    }
    tags = {"metric.loss": str(version.loss)} if version.loss is not None else {}
    registered = registry.register_folder(
        model_folder(version.source), alias=alias, pipeline_info=info, tags=tags, experiment="bootstrap"
    )
    version.registry_name, version.registry_version = registered.name, registered.version
    version.source = registry_source(model_name=registered.name, version=registered.version)
    version.artifact_sha256, version.run_id = registered.sha256, registered.run_id or ""
    version.aliases = [alias] if alias else []
    version.save()
    return version


def model_version_bootstrap(*, demo_fallback_dir: str | None = None) -> list[ModelVersion]:
    """Rows for every bundled model and every name in T2I_MODEL_PATHS; the default one is made current and,
    when the registry has no champion yet (a fresh install), registered as version 1 with alias `champion`.

    With `demo_fallback_dir` and no model at all (the bundled one is still being trained), a tiny
    untrained pipeline is saved there and registered, so the studio still runs end to end.
    """
    from ml_engine.pipelines.loader import bundled_models

    bundled = set(bundled_models()) if settings.T2I_BOOTSTRAP_BUNDLED else set()
    names = sorted(bundled | set(settings.T2I_MODEL_PATHS))
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
    _champion_ensure()
    _others_register(names)
    return created


def _others_register(names) -> None:
    """The models shipped beside the champion (the GAN beside the diffusion model) go into the registry too, so
    staff can promote them and the arena can pit them against the champion: the first becomes the challenger
    when there is none."""
    from ml_engine.provenance import folder_sha256

    registry = registry_client()
    rows = ModelVersion.objects.filter(version_name__in=names, registry_version__isnull=True, is_current=False)
    registered = {v.sha256 for v in registry.versions()}
    for row in rows.exclude(version_name=DEMO_VERSION_NAME).order_by("version_name"):
        if folder_sha256(model_folder(row.source)) in registered:
            continue  # the registry already holds these weights (a new database beside an existing registry)
        alias = CHALLENGER if registry.alias_version(CHALLENGER) is None else None
        _register_in_registry(version=row, alias=alias)


def _champion_ensure() -> None:
    """The registry's champion and the current row agree: register the current row when the registry has no
    champion, or when the champion is the demo stand-in and a trained model has arrived."""
    current = ModelVersion.objects.filter(is_current=True).first()
    if current is None:
        return
    registry = registry_client()
    champion = registry.alias_version(CHAMPION)
    if champion is not None and current.registry_version == champion.version:
        return
    if champion is not None:
        holder = ModelVersion.objects.filter(registry_version=champion.version).first()
        replaces_demo = holder is not None and holder.version_name == DEMO_VERSION_NAME
        if not replaces_demo or current.version_name == DEMO_VERSION_NAME:
            model_version_sync()  # the registry already has a real champion: it wins
            return
    previous = ModelVersion.objects.filter(registry_version=champion.version).first() if champion else None
    with transaction.atomic():
        if current.registry_version is None:
            _register_in_registry(version=current, alias=CHAMPION)
        else:
            registry.alias_set(CHAMPION, current.registry_version)
        ModelChange.objects.create(
            action=ModelChange.Action.BOOTSTRAP,
            from_version=previous,
            to_version=current,
            reason="fresh install: the bundled model becomes champion"
            if previous is None
            else "a trained model replaces the untrained demo",
        )
        model_version_sync()
