"""Loading a model version's pipeline in a worker: resolved through settings, loaded once, then cached.

A registered version's source is "registry:<model>/<version>": the worker fetches that version's folder
from the MLflow registry into T2I_REGISTRY_CACHE and checks its SHA-256 on every job against the hash the
studio's database pinned when the version was registered or first mirrored (`ModelVersion.artifact_sha256`):
a copy, or a registry tag, that differs is refused, never loaded; only safetensors weights are loaded. A
promotion moves the `is_current` row (and the `champion` alias with it), so the next job names the new
version and this cache loads it beside the old one: no restart. Jobs follow the database's champion, not the
alias, so whoever can write to MLflow cannot choose what users get. T2I_MODEL_PATHS maps a bundled name to
another folder (tests point "diffusion" at a tiny random pipeline). Only workers import torch.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

REGISTRY_PREFIX = "registry:"
_cache: dict[tuple[str, str], object] = {}
_lock = threading.Lock()
MAX_CACHED = 3  # champion, challenger and one more (a rollback target) stay loaded


def registry_source(*, model_name: str, version: int) -> str:
    return f"{REGISTRY_PREFIX}{model_name}/{version}"


def registry_client(model_name: str | None = None):
    """The MLflow registry for `model_name` (default T2I_REGISTERED_MODEL) in the configured store."""
    from ml_engine.registry import Registry

    return Registry(tracking_uri=settings.MLFLOW_TRACKING_URI, model_name=model_name or settings.T2I_REGISTERED_MODEL)


def model_folder(source: str) -> Path:
    if source.startswith(REGISTRY_PREFIX):
        from ml_engine.registry import RegistryError
        from modelops.models import ModelVersion

        model_name, _, version = source.removeprefix(REGISTRY_PREFIX).rpartition("/")
        pinned = ModelVersion.objects.filter(source=source).values_list("artifact_sha256", flat=True).first()
        if not pinned:
            raise RegistryError(f"{source} has no pinned hash in the studio's database; refusing to load it")
        return registry_client(model_name).fetch(
            int(version), cache_dir=settings.T2I_REGISTRY_CACHE, expected_sha256=pinned
        )
    from ml_engine.pipelines.loader import resolve_model

    return resolve_model(settings.T2I_MODEL_PATHS.get(source, source))


def pipeline_load(source: str):
    """The pipeline for a version's source, loaded on first use in this process (hash checked every time)."""
    folder = model_folder(source)
    key = (str(folder), settings.T2I_DEVICE)
    with _lock:
        if key not in _cache:
            from ml_engine.pipelines import load_pipeline

            while len(_cache) >= MAX_CACHED:
                _cache.pop(next(iter(_cache)))  # the oldest loaded; dicts keep insertion order
            pipe = load_pipeline(str(folder), device=settings.T2I_DEVICE, precision=settings.T2I_PRECISION)
            if getattr(pipe, "precision_choice", None) is not None:
                logger.info("%s runs in %s", folder.name, pipe.precision_choice.describe())
            if hasattr(pipe, "warm_up"):  # traces the UNet now rather than in the first user's request
                pipe.warm_up()
            _cache[key] = pipe
        return _cache[key]


def pipeline_release(source: str) -> None:
    """Drop the loaded pipeline of a folder source from this process's cache (a web process that loaded a folder
    only to read what it supports keeps no model in memory)."""
    from ml_engine.pipelines.loader import resolve_model

    folder = resolve_model(settings.T2I_MODEL_PATHS.get(source, source))
    with _lock:
        _cache.pop((str(folder), settings.T2I_DEVICE), None)


def champion_source() -> str | None:
    """The source of the studio's champion (the current version) now, None when there is none."""
    from modelops.selectors import model_version_current

    current = model_version_current()
    return current.source if current is not None else None


def pipeline_cache_clear() -> None:
    with _lock:
        _cache.clear()
