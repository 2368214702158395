"""Model version writes: registering pipelines and users' own model folders, mirroring the MLflow registry,
bootstrapping a fresh install.

The registry holds versions and aliases; `model_version_sync` copies them (aliases, scores, loss, run
links, what each pipeline supports) into ModelVersion rows, and `is_current` follows the `champion` alias.
A folder registered by staff (`model_version_register_folder`, `manage.py register_model`, the model page) becomes
a new version of the same registered model as the bundled champion, with no alias: evaluation, the arena,
promotion and rollback treat it like any other version, and the mirror finds its row by registry version.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ml_engine.registry import PIPELINE_INFO_KEYS, pipeline_info_of
from modelops.models import ModelChange, ModelVersion
from modelops.runtime import model_folder, pipeline_load, pipeline_release, registry_client, registry_source

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
            **pipeline_info_of(pipe),  # sizes as [width, height]
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
    for key in PIPELINE_INFO_KEYS:
        if key in info:
            fields[key] = info[key]
    return fields


class _UnlinkedRows:
    """The rows no registry version mirrors yet (a bundled model, a T2I_MODEL_PATHS folder), by their weights' hash,
    hashed only when a registry version without a row asks: a fresh database beside an existing registry links
    `diffusion` to the registry's copy of the same bytes instead of adding a second row for the same model."""

    def __init__(self):
        self._by_sha256: dict[str, ModelVersion] | None = None

    def holding(self, sha256: str) -> ModelVersion | None:
        if self._by_sha256 is None:
            from ml_engine.provenance import folder_sha256

            self._by_sha256 = {}
            for row in ModelVersion.objects.filter(registry_version__isnull=True).order_by("created_at"):
                try:
                    self._by_sha256.setdefault(folder_sha256(model_folder(row.source)), row)
                except Exception:  # its folder is gone or unreadable: nothing to match
                    logger.debug("%s: no folder to hash", row.version_name, exc_info=True)
        return self._by_sha256.pop(sha256, None) if sha256 else None


@transaction.atomic
def model_version_sync(*, actor=None) -> list[ModelVersion]:
    """Mirror every registry version into a row (created when missing) and make the champion current.

    Returns the rows it created. Idempotent; `manage.py sync_models` runs it, and so does every promotion.
    """
    registry = registry_client()
    created = []
    unlinked = _UnlinkedRows()
    for registered in registry.versions():
        fields = _mirror_fields(registered, registry)
        row = ModelVersion.objects.filter(registry_name=registered.name, registry_version=registered.version).first()
        if row is None:
            row = unlinked.holding(registered.sha256)
        if row is not None and row.registry_version is None:  # the same weights under their own name: one row
            row.source = registry_source(model_name=registered.name, version=registered.version)
            for key, value in fields.items():
                setattr(row, key, value)
            row.save()
        elif row is None:
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


def _register_in_registry(*, version: ModelVersion, alias: str | None, experiment: str = "bootstrap") -> ModelVersion:
    """Put an unregistered row's folder into the registry and link the row to the new registry version."""
    registry = registry_client()
    info = {key: getattr(version, key) for key in PIPELINE_INFO_KEYS}
    tags = {"metric.loss": str(version.loss)} if version.loss is not None else {}
    registered = registry.register_folder(
        model_folder(version.source), alias=alias, pipeline_info=info, tags=tags, experiment=experiment
    )
    version.registry_name, version.registry_version = registered.name, registered.version
    version.source = registry_source(model_name=registered.name, version=registered.version)
    version.artifact_sha256, version.run_id = registered.sha256, registered.run_id or ""
    version.aliases = [alias] if alias else []
    version.save()
    return version


VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # what the API's "model" field and URLs carry well


def _folder_checked(folder: str) -> Path:
    """A folder the registry may take: a saved diffusers text-to-image pipeline, safetensors only."""
    from ml_engine.pipelines.loader import pickle_files, text_to_image_class

    path = Path(folder).expanduser()
    if not path.is_absolute():
        raise ValidationError({"folder": f"{folder!r}: give the folder's absolute path on this server"})
    if not (path / "model_index.json").is_file():
        raise ValidationError({"folder": f"{path} is not a saved diffusers pipeline: it has no model_index.json"})
    pickles = pickle_files(path)
    if pickles:
        shown = ", ".join(str(p.relative_to(path)) for p in pickles[:3])
        raise ValidationError({"folder": f"{path} holds pickle-format weights ({shown}): only safetensors are loaded"})
    try:
        text_to_image_class(path)
    except ValueError as error:  # also a model_index.json that is not JSON
        raise ValidationError({"folder": str(error)}) from error
    return path


def _defaults_checked(default_steps: int | None, default_guidance: float | None) -> None:
    """The ranges a request may ask for (prompts.services), so that a model's defaults are a valid request."""
    from prompts.services import GUIDANCE_RANGE, STEPS_RANGE

    errors = {}
    if default_steps is not None and not STEPS_RANGE[0] <= default_steps <= STEPS_RANGE[1]:
        errors["default_steps"] = f"must be between {STEPS_RANGE[0]} and {STEPS_RANGE[1]}"
    if default_guidance is not None and not GUIDANCE_RANGE[0] <= default_guidance <= GUIDANCE_RANGE[1]:
        errors["default_guidance"] = f"must be between {GUIDANCE_RANGE[0]:g} and {GUIDANCE_RANGE[1]:g}"
    if errors:
        raise ValidationError(errors)


def _name_checked(version_name: str) -> str:
    name = version_name.strip()
    if not VERSION_NAME.fullmatch(name):
        raise ValidationError(
            {"version_name": "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"}
        )
    if ModelVersion.objects.filter(version_name=name).exists():
        raise ValidationError({"version_name": f"a model version named {name!r} already exists"})
    return name


def model_version_register_folder(
    *,
    folder: str,
    version_name: str,
    default_steps: int | None = None,
    default_guidance: float | None = None,
    actor=None,
) -> ModelVersion:
    """A user's own model folder (Stable Diffusion 1.x/2.x, SD-Turbo, SDXL, or a Shapes pipeline, safetensors only)
    as a new model version: checked; `default_steps` / `default_guidance`, when given, written to its studio.json
    (what a request that names none gets: 1 and 0 for SD-Turbo); loaded once to read its sizes, defaults and
    samplers; put into the MLflow registry as a new version of T2I_REGISTERED_MODEL with no alias, so its row's
    source is `registry:<model>/<version>` and its SHA-256 is pinned; a ModelChange records who registered it.
    Staff then evaluate and promote it like any other version. Raises ValidationError naming the field."""
    from ml_engine.pipelines.diffusers_adapter import write_studio_defaults

    checked, errors = [], {}  # every field's problem at once, as a form shows them
    for check in (
        lambda: _folder_checked(folder),
        lambda: _name_checked(version_name),
        lambda: _defaults_checked(default_steps, default_guidance),
    ):
        try:
            checked.append(check())
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    path, name, _ = checked
    if default_steps is not None or default_guidance is not None:
        write_studio_defaults(path, default_steps=default_steps, default_guidance=default_guidance)
    try:  # outside any transaction: loading takes seconds
        pipe = pipeline_load(str(path))
        info = pipeline_info_of(pipe)
    except Exception as error:  # whatever diffusers or the folder raised: the staff member reads why
        logger.warning("registering %s: the folder does not load", path, exc_info=True)
        raise ValidationError({"folder": f"{path} does not load as a pipeline: {error}"}) from error
    finally:
        pipeline_release(str(path))  # the workers load the registry's copy; this process keeps nothing
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(version_name=name, source=str(path), **info)
            _register_in_registry(version=version, alias=None, experiment="register")
            ModelChange.objects.create(
                action=ModelChange.Action.REGISTER,
                actor=actor,
                to_version=version,
                reason=f"registered the folder {path} as registry version {version.registry_version}",
            )
    except IntegrityError as error:  # the name was taken meanwhile
        raise ValidationError({"version_name": f"a model version named {name!r} already exists"}) from error
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
    already_held = False
    for row in rows.exclude(version_name=DEMO_VERSION_NAME).order_by("version_name"):
        if folder_sha256(model_folder(row.source)) in registered:
            already_held = True  # a new database beside an existing registry: the sync links the row to it
            continue
        alias = CHALLENGER if registry.alias_version(CHALLENGER) is None else None
        _register_in_registry(version=row, alias=alias)
    if already_held:
        model_version_sync()


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
