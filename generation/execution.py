"""The worker side of a job: claim the row, run the ml_engine pipeline with a step callback, save the images
(and, when the model gives them, each image's per-word attention maps).

Each denoising step updates the row (progress, latest preview) and publishes a progress event; the
callback also reads the row's cancel flag and raises GenerationCancelled to stop a running job.
"""

from __future__ import annotations

import logging
import time

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from generation.events import event_publish, job_state_event, progress_event
from generation.models import GeneratedImage, GenerationJob
from generation.pngs import image_infotext, png_bytes, png_data_url
from modelops.runtime import pipeline_load
from modelops.selectors import model_version_champion, model_version_current

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a job still "running" after a worker crash is redelivered and resumed this many times


@transaction.atomic
def _claim(job_id: int) -> GenerationJob | None:
    job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.cancel_requested:
        return None
    if job.status == GenerationJob.Status.RUNNING and job.attempts >= MAX_ATTEMPTS:
        # redelivered again after its worker died mid-run every time: stop retrying a job that kills workers
        job.status, job.finished_at = GenerationJob.Status.FAILED, timezone.now()
        job.error = f"gave up after {job.attempts} attempts: the worker stopped while running this job"
        job.save(update_fields=["status", "finished_at", "error"])
        transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))
        return None
    if job.status not in (GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING):
        return None
    job.status = GenerationJob.Status.RUNNING
    job.started_at = timezone.now()
    job.attempts += 1
    job.save(update_fields=["status", "started_at", "attempts"])
    return job


class _StepReporter:
    """Progress over the whole job: image i of n at step s counts as i * steps + s of n * steps."""

    def __init__(self, job: GenerationJob, images: int):
        self.job = job
        self.images = images
        self.image_index = 0
        self.started = time.monotonic()

    def __call__(self, info) -> None:
        from ml_engine.pipelines import GenerationCancelled

        step, total = self.image_index * info.total + info.step, info.total * self.images
        elapsed = time.monotonic() - self.started
        eta_s = elapsed / step * (total - step)
        preview = png_data_url(info.preview())
        # one statement both records progress and reads the cancel flag: no row updated means cancelled
        still_wanted = GenerationJob.objects.filter(pk=self.job.pk, cancel_requested=False).update(
            progress=step / total, step=step, total_steps=total, preview=preview
        )
        if not still_wanted:
            raise GenerationCancelled
        event = progress_event(self.job, step=step, total=total, eta_s=eta_s, preview=preview)
        event_publish(job=self.job, event=event)


def _finish(job: GenerationJob, status: str, error: str = "") -> GenerationJob:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    event_publish(job=job, event=job_state_event(job))
    return job


def _save_images(job: GenerationJob, images: list, seeds: list[int], attention: list) -> None:
    prompt, version = job.prompt, job.model_version
    with transaction.atomic():
        for index, (image, seed, maps) in enumerate(zip(images, seeds, attention, strict=True)):
            row = GeneratedImage(
                job=job,
                prompt=prompt,
                user=job.user,
                model_version=version,
                index=index,
                seed=seed,
                width=image.width,
                height=image.height,
                visibility=job.visibility,
            )
            png = png_bytes(image, parameters=image_infotext(row))
            row.file.save(f"job{job.pk}-{index}-seed{seed}.png", ContentFile(png), save=False)
            if maps is not None and maps.words:
                row.attention_words = maps.words
                sprite = ContentFile(png_bytes(maps.to_sprite()))
                row.attention_maps.save(f"job{job.pk}-{index}-seed{seed}-attention.png", sprite, save=False)
            row.save()
        job.refresh_from_db(fields=["preview", "step", "total_steps"])  # the step callback updated them in SQL
        job.status, job.progress, job.finished_at = GenerationJob.Status.SUCCEEDED, 1.0, timezone.now()
        job.save(update_fields=["status", "progress", "finished_at"])
        transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))


def _follow_champion(job: GenerationJob) -> GenerationJob:
    """A job that named no model runs the version the `champion` alias points at now, and records it."""
    if not job.follows_champion:
        return job
    try:
        champion = model_version_champion()
    except Exception:  # the registry is unreachable: the version chosen at submission still serves
        logger.warning(
            "could not resolve the champion alias; job %s keeps %s", job.pk, job.model_version, exc_info=True
        )
        return job
    prompt = job.prompt
    if champion is None or champion.pk == job.model_version_id or not champion.supports(prompt.width, prompt.height):
        return job
    with transaction.atomic():
        GenerationJob.objects.filter(pk=job.pk).update(model_version=champion)
        type(prompt).objects.filter(pk=prompt.pk).update(model_version=champion)
    job.model_version = prompt.model_version = champion
    return job


def generation_job_execute(*, job_id: int) -> GenerationJob | None:
    """Run one job to its end. Returns None when the job no longer wants running (cancelled, done, gone)."""
    from ml_engine.pipelines import GenerationCancelled

    job = _claim(job_id)
    if job is None:
        logger.info("job %s does not want running; skipped", job_id)
        return None
    job = _follow_champion(job)
    event_publish(job=job, event={"type": "started", "job": job.pk, "total": job.total_steps})
    prompt = job.prompt
    try:
        from ml_engine.attention import supports_attention

        pipe = pipeline_load(job.model_version.source)
        reporter = _StepReporter(job, images=prompt.num_images)
        # each image keeps what its prompt's words attended to, when the model can say (not real SD models)
        extra = {"return_attention": True} if supports_attention(pipe) else {}
        images, seeds, attention = [], [], []
        # one image per call: a batch of n gives slightly different numbers than n batches of one, and a
        # re-run (one image, its own seed) must reproduce the image bit for bit
        for index in range(prompt.num_images):
            reporter.image_index = index
            result = pipe(
                prompt.text_content,
                negative_prompt=prompt.negative_prompt or None,
                num_inference_steps=prompt.steps,
                guidance_scale=prompt.guidance,
                seed=prompt.seed + index,
                num_images_per_prompt=1,
                callback_on_step_end=reporter,
                height=prompt.height,
                width=prompt.width,
                **extra,
            )
            images += result.images
            seeds += result.seeds
            attention += result.attention or [None] * len(result.images)
    except GenerationCancelled:
        return _finish(job, GenerationJob.Status.CANCELLED)
    except Exception as exc:  # the job records why it failed; the worker lives on for the next job
        logger.exception("job %s failed", job.pk)
        return _finish(job, GenerationJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    _save_images(job, images, seeds, attention)
    return job


def pipeline_warm_up() -> None:
    """Load the champion (by its registry alias; else the current row) before the first job arrives."""
    from modelops.runtime import champion_source

    try:
        version = model_version_current()
        source = champion_source() or (version.source if version is not None else None)
        if source is not None:
            pipeline_load(source)
    except Exception:  # a broken model or database fails its jobs with a clear error; the worker still starts
        logger.warning("could not preload the current model", exc_info=True)
