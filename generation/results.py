"""A job's results, exactly once: its PNGs under keys fixed by the job and index, then its rows and its success
in one transaction that only the lease holder can commit.

The files go first, each to a deterministic key that a retry or a later attempt overwrites (FileSystemStorage
with allow_overwrite, S3 always), so a save that failed halfway leaves only files that the next save replaces.
The rows and the job's success commit together after the lease is checked under a row lock; the unique
(job, index) constraint backs that up. A job that ends without success has its keys deleted: no orphan files.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from generation.events import event_publish, job_state_event
from generation.leases import LeaseLost
from generation.models import GeneratedImage, GenerationJob, image_upload_to
from generation.pngs import image_infotext, png_bytes


def image_keys(job: GenerationJob, *, index: int, seed: int) -> tuple[str, str]:
    """The storage keys of a job's image `index` and of its attention maps."""
    stem = f"job{job.pk}-{index}-seed{seed}"
    probe = GeneratedImage(user_id=job.user_id)
    return image_upload_to(probe, f"{stem}.png"), image_upload_to(probe, f"{stem}-attention.png")


def _storage():
    return GeneratedImage._meta.get_field("file").storage


def _put(key: str, data: bytes) -> str:
    saved = _storage().save(key, ContentFile(data))
    if saved != key:  # the storage renamed instead of overwriting: retries would pile up copies
        _storage().delete(saved)
        raise ImproperlyConfigured(f"image storage must overwrite existing keys (saved {key!r} as {saved!r})")
    return saved


@dataclass(frozen=True)
class MadeImage:
    """One image as its pipeline call gave it: its seed, its per-word attention maps (or None) and its place in the
    call ((rows, row), generation.batching)."""

    image: Image.Image
    seed: int
    attention: object = None
    layout: tuple[int, int] = (1, 0)


def job_images_save(*, job: GenerationJob, owner: str, made: list[MadeImage]) -> None:
    """Store the images and mark the job succeeded, if `owner` still holds its lease (else LeaseLost)."""
    prompt, version = job.prompt, job.model_version
    rows = []
    for index, one in enumerate(made):
        image, (batch_rows, batch_row) = one.image, one.layout
        row = GeneratedImage(
            job=job,
            prompt=prompt,
            user=job.user,
            model_version=version,
            index=index,
            seed=one.seed,
            width=image.width,
            height=image.height,
            visibility=job.visibility,
            batch_rows=batch_rows,
            batch_row=batch_row,
        )
        image_key, attention_key = image_keys(job, index=index, seed=one.seed)
        png = png_bytes(image, parameters=image_infotext(row))
        row.file.name, row.byte_size = _put(image_key, png), len(png)
        maps = one.attention
        if maps is not None and maps.words:
            sprite = png_bytes(maps.to_sprite())
            row.attention_words = maps.words
            row.attention_maps.name = _put(attention_key, sprite)
            row.byte_size += len(sprite)
        rows.append(row)
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != GenerationJob.Status.RUNNING or locked.lease_owner != owner:
            raise LeaseLost(f"job {job.pk} is {locked.status} under {locked.lease_owner or 'no lease'}")
        GeneratedImage.objects.bulk_create(rows)
        job.preview, job.step = locked.preview, job.total_steps  # the last steps' writes may have been skipped
        job.status, job.progress, job.finished_at = GenerationJob.Status.SUCCEEDED, 1.0, timezone.now()
        job.lease_owner, job.lease_expires_at = "", None
        job.save(update_fields=["status", "progress", "step", "finished_at", "lease_owner", "lease_expires_at"])
        transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))


def job_files_delete(*, job: GenerationJob) -> None:
    """Remove whatever an attempt of an unsuccessful job left in storage (its keys are known in advance). Run
    after commit, robustly: storage that is down then leaves the files, and the job's end stands."""
    prompt = job.prompt
    storage = _storage()
    for index in range(prompt.num_images):
        for key in image_keys(job, index=index, seed=prompt.seed + index):
            storage.delete(key)
