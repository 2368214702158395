"""Job events on Channels groups: one group per job and one per user, fed by the worker, read by consumers.

Messages are JSON: {"type": "progress", "job", "step", "total", "percent", "eta_s", "preview"},
then {"type": "completed", "job", "images"} or {"type": "failed"|"cancelled", "job", "error"?}.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from generation.models import GeneratedImage, GenerationJob

logger = logging.getLogger(__name__)


def job_group(job_id: int) -> str:
    return f"job-{job_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}-jobs"


def image_payload(image: GeneratedImage) -> dict:
    return {
        "id": image.pk,
        "url": reverse("api:image-file", args=[image.pk]),
        "page": reverse("generation:image_detail", args=[image.pk]),
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "visibility": image.visibility,
    }


def job_images_payload(job: GenerationJob) -> list[dict]:
    return [image_payload(image) for image in sorted(job.images.all(), key=lambda image: image.index)]


def progress_event(job: GenerationJob, *, step: int, total: int, eta_s: float | None, preview: str) -> dict:
    return {
        "type": "progress",
        "job": job.pk,
        "step": step,
        "total": total,
        "percent": round(100.0 * step / total, 1) if total else 0.0,
        "eta_s": None if eta_s is None else round(eta_s, 2),
        "preview": preview,
    }


def job_state_event(job: GenerationJob) -> dict:
    """What a late joiner gets first: the event that describes the job as it stands now."""
    status = GenerationJob.Status
    if job.status == status.SUCCEEDED:
        return {"type": "completed", "job": job.pk, "images": job_images_payload(job), "preview": job.preview}
    if job.status in (status.FAILED, status.CANCELLED):
        return {"type": job.status, "job": job.pk, "error": job.error}
    if job.status == status.RUNNING:
        return progress_event(job, step=job.step, total=job.total_steps, eta_s=None, preview=job.preview)
    return {"type": "queued", "job": job.pk}


def event_publish(*, job: GenerationJob, event: dict) -> None:
    """Best effort: a channel layer outage must not fail a generation; the database still has the state."""
    layer = get_channel_layer()
    message = {"type": "job.event", "event": event}
    groups = [job_group(job.pk), user_group(job.user_id)]

    async def send_to_both() -> None:
        for group in groups:
            await layer.group_send(group, message)

    try:
        if hasattr(layer, "groups_send_blocking"):  # the embedded layer sends from this thread, no loop needed
            layer.groups_send_blocking(groups, message)
        else:
            async_to_sync(send_to_both)()
    except Exception:
        logger.exception("could not publish %s event for job %s", event.get("type"), job.pk)
