"""Loading a model version's pipeline in a worker: resolved through settings, loaded once, then cached.

T2I_MODEL_PATHS maps a name to another folder (tests point "diffusion" at a tiny random pipeline);
otherwise ml_engine resolves bundled names and folders itself. Only workers import torch.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

_cache: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def model_folder(source: str) -> Path:
    from ml_engine.pipelines.loader import resolve_model

    return resolve_model(settings.T2I_MODEL_PATHS.get(source, source))


def pipeline_load(source: str):
    """The pipeline for a version's source, loaded on first use in this process."""
    folder = model_folder(source)
    key = (str(folder), settings.T2I_DEVICE)
    with _lock:
        if key not in _cache:
            from ml_engine.pipelines import load_pipeline

            _cache[key] = load_pipeline(str(folder), device=settings.T2I_DEVICE)
        return _cache[key]


def pipeline_cache_clear() -> None:
    with _lock:
        _cache.clear()
