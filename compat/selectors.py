"""Reads for the client-compatible APIs: models by the names clients send, a job awaited to its end, the caller's
current job, and the files of a finished job."""

from __future__ import annotations

import time

from django.conf import settings

from compat.models import ClientSettings
from generation.models import GenerationJob
from modelops.models import ModelVersion
from modelops.selectors import model_version_current, model_version_get, model_version_list

WAIT_POLL_S = 0.02  # how often a waiting request looks at its job: a fraction of one image's time


def checkpoint_title(version: ModelVersion) -> str:
    """A1111's "name [hash]" (the first 10 hex digits of the weights' SHA-256), or the name for an unhashed one."""
    return (
        f"{version.version_name} [{version.artifact_sha256[:10]}]" if version.artifact_sha256 else version.version_name
    )


def model_version_by_client_name(name: str) -> ModelVersion | None:
    """A model named as a client names it: the version name, or A1111's title (name plus " [hash]")."""
    name = (name or "").strip()
    version = model_version_get(version_name=name)
    if version is None and name.endswith("]") and " [" in name:
        version = model_version_get(version_name=name.rpartition(" [")[0])
    return version


def client_checkpoint(*, user) -> ModelVersion | None:
    """The version this caller's A1111 requests get when they name none: theirs if set, else the champion."""
    chosen = ClientSettings.objects.filter(user=user).select_related("checkpoint").first()
    return chosen.checkpoint if chosen is not None and chosen.checkpoint is not None else model_version_current()


def served_models() -> list[ModelVersion]:
    return list(model_version_list())


def job_wait_finished(*, job_id: int, timeout_s: float | None = None) -> GenerationJob:
    """The job once it has succeeded, failed or been cancelled, or as it stands when `timeout_s` (default
    T2I_SYNC_WAIT_S) runs out. The worker writes the end in one transaction, so one cheap status read a poll
    suffices; the full row is read once."""
    deadline = time.monotonic() + (settings.T2I_SYNC_WAIT_S if timeout_s is None else timeout_s)
    rows = GenerationJob.objects.filter(pk=job_id)
    while rows.values_list("status", flat=True).first() not in GenerationJob.FINISHED:
        if time.monotonic() >= deadline:
            break
        time.sleep(WAIT_POLL_S)
    return GenerationJob.objects.select_related("prompt", "model_version").prefetch_related("images").get(pk=job_id)


def job_current_for_user(*, user) -> GenerationJob | None:
    """What an A1111 progress poll reports: the caller's running job, else their next queued one, else their
    latest (so a poll right after the end still sees it finished)."""
    jobs = GenerationJob.objects.filter(user=user).select_related("prompt", "model_version")
    return (
        jobs.filter(status=GenerationJob.Status.RUNNING).order_by("started_at").first()
        or jobs.filter(status=GenerationJob.Status.QUEUED).order_by("created_at").first()
        or jobs.order_by("-created_at").first()
    )


def job_image_files(job: GenerationJob) -> list[bytes]:
    """The finished job's PNGs (with their infotext), in order."""
    images = sorted(job.images.all(), key=lambda image: image.index)
    files = []
    for image in images:
        with image.file.open("rb") as f:
            files.append(f.read())
    return files
