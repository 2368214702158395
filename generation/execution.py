"""The worker side of a job: claim the row under a lease, run the ml_engine pipeline with a step callback, save
the images (and, when the model gives them, each image's per-word attention maps) exactly once.

Each denoising step renews the lease, updates the row (progress, latest preview) and publishes a progress
event, all in one statement conditioned on the lease and the cancel flag: no row updated means the job was
cancelled (GenerationCancelled) or another worker took it over (LeaseLost). The step callback also enforces
the job's time limit, whatever the Celery pool (the solo pool ignores Celery's own limits). A database or
storage blip is retried (generation.transient), never reported as the job's failure.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generation.events import event_publish, job_state_event, progress_event
from generation.fair_share import job_due_ids
from generation.leases import (
    LeaseLost,
    attempts_exhausted,
    give_up_reason,
    job_lease_renew,
    lease_expiry,
    lease_is_live,
    lease_token,
)
from generation.models import GenerationJob
from generation.pngs import png_data_url
from generation.results import job_files_delete, job_images_save
from generation.transient import DATABASE_ERRORS, TransientOutage, database_reconnect, with_retries
from modelops.runtime import pipeline_load
from modelops.selectors import model_version_champion, model_version_current

logger = logging.getLogger(__name__)


class JobTimeLimitExceeded(Exception):
    pass


def _end_unclaimed(job: GenerationJob, status: str, error: str = "") -> None:
    """End a job whose worker is gone (called under the row lock)."""
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.lease_owner, job.lease_expires_at = "", None
    job.save(update_fields=["status", "error", "finished_at", "lease_owner", "lease_expires_at"])
    transaction.on_commit(lambda: job_files_delete(job=job), robust=True)
    transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))


@transaction.atomic
def _claim(job_id: int, owner: str) -> GenerationJob | None:
    """Take the job if it wants running: queued, or running under a lease that expired (its worker died)."""
    job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        return None
    now = timezone.now()
    if job.status == GenerationJob.Status.RUNNING:
        if lease_is_live(job, now):  # a second delivery while its worker runs it: the job runs once
            logger.info("job %s is running under %s; delivery dropped", job.pk, job.lease_owner)
            return None
        if job.cancel_requested:  # cancelled while its worker was gone
            _end_unclaimed(job, GenerationJob.Status.CANCELLED)
            return None
    elif job.status != GenerationJob.Status.QUEUED or job.cancel_requested:
        return None
    if attempts_exhausted(job):
        _end_unclaimed(job, GenerationJob.Status.FAILED, give_up_reason(job))
        return None
    job.status, job.started_at, job.attempts = GenerationJob.Status.RUNNING, now, job.attempts + 1
    job.lease_owner, job.lease_expires_at = owner, lease_expiry(now)
    job.progress, job.step = 0.0, 0
    job.save(update_fields=["status", "started_at", "attempts", "lease_owner", "lease_expires_at", "progress", "step"])
    return job


def _claim_due(job_id: int, owner: str) -> GenerationJob | None:
    """A delivery of a queued job is a turn to run the job that is due under fair share (generation.fair_share):
    if that is another user's, run it and send this job's message again, so every queued job keeps one."""
    if GenerationJob.objects.filter(pk=job_id, status=GenerationJob.Status.QUEUED).exists():
        for due_id in job_due_ids():
            if due_id == job_id:
                break
            job = _claim(due_id, owner)
            if job is not None:
                from generation.tasks import generation_job_run

                generation_job_run.delay(job_id)
                logger.info("job %s is due before job %s (fair share); job %s waits its turn", due_id, job_id, job_id)
                return job
    return _claim(job_id, owner)


class _StepReporter:
    """Progress over the whole job: image i of n at step s counts as i * steps + s of n * steps."""

    def __init__(self, job: GenerationJob, *, images: int, owner: str, deadline: float):
        self.job = job
        self.images = images
        self.owner = owner
        self.deadline = deadline
        self.image_index = 0
        self.started = time.monotonic()

    def __call__(self, info) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise JobTimeLimitExceeded
        step, total = self.image_index * info.total + info.step, info.total * self.images
        eta_s = (now - self.started) / step * (total - step)
        preview = png_data_url(info.preview())
        try:
            # one statement renews the lease, records progress and reads the cancel flag
            updated = GenerationJob.objects.filter(
                pk=self.job.pk, lease_owner=self.owner, status=GenerationJob.Status.RUNNING, cancel_requested=False
            ).update(
                progress=step / total, step=step, total_steps=total, preview=preview, lease_expires_at=lease_expiry()
            )
        except DATABASE_ERRORS:
            # the database is away: keep denoising; the lease is renewed (or found lost) at the next step
            # that reaches it, and the save retries until it is back
            logger.warning("job %s: progress of step %s not recorded (database unreachable)", self.job.pk, step)
            database_reconnect()
            return
        if not updated:
            raise self._why_stopped()
        event_publish(
            job=self.job, event=progress_event(self.job, step=step, total=total, eta_s=eta_s, preview=preview)
        )

    def _why_stopped(self) -> Exception:
        from ml_engine.pipelines import GenerationCancelled

        row = GenerationJob.objects.filter(pk=self.job.pk).values("status", "lease_owner").first()
        if row and row["status"] == GenerationJob.Status.RUNNING and row["lease_owner"] == self.owner:
            return GenerationCancelled()
        return LeaseLost(f"job {self.job.pk} was taken over")


def _finish(job: GenerationJob, owner: str, status: str, error: str = "") -> GenerationJob | None:
    """End the job as this worker's attempt saw it, if it still holds the lease."""

    def end() -> bool:
        with transaction.atomic():
            held = GenerationJob.objects.filter(pk=job.pk, lease_owner=owner, status=GenerationJob.Status.RUNNING)
            ended = held.update(
                status=status, error=error, finished_at=timezone.now(), lease_owner="", lease_expires_at=None
            )
            if ended:
                transaction.on_commit(lambda: job_files_delete(job=job), robust=True)
        return bool(ended)

    if not with_retries(end, what=f"ending job {job.pk}"):
        logger.warning("job %s was taken over before it could end as %s", job.pk, status)
        return None
    job.refresh_from_db()
    event_publish(job=job, event=job_state_event(job))
    return job


def _follow_champion(job: GenerationJob) -> GenerationJob:
    """A job that named no model runs the version the `champion` alias points at now, and records it."""
    if not job.follows_champion:
        return job
    try:
        champion = model_version_champion()
    except DATABASE_ERRORS:
        raise
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


def _generate(job: GenerationJob, owner: str, deadline: float) -> tuple[list, list[int], list]:
    from ml_engine.attention import supports_attention

    job = _follow_champion(job)
    prompt = job.prompt
    pipe = pipeline_load(job.model_version.source)
    if not job_lease_renew(job_id=job.pk, owner=owner):  # loading may have taken a while
        raise LeaseLost(f"job {job.pk} was taken over while its model loaded")
    reporter = _StepReporter(job, images=prompt.num_images, owner=owner, deadline=deadline)
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
    return images, seeds, attention


def _still_held(job: GenerationJob, owner: str):
    def check() -> None:
        if not job_lease_renew(job_id=job.pk, owner=owner):
            raise LeaseLost(f"job {job.pk} was taken over while its worker waited out an outage")

    return check


def generation_job_execute(*, job_id: int) -> GenerationJob | None:
    """Run one job to its end. Returns None when the job no longer wants running here (cancelled, done, gone,
    or running under another worker's lease)."""
    from celery.exceptions import SoftTimeLimitExceeded

    from ml_engine.pipelines import GenerationCancelled

    owner = lease_token()
    job = _claim_due(job_id, owner)  # a database error here propagates: nothing is claimed, the task retries
    if job is None:
        logger.info("job %s does not want running; skipped", job_id)
        return None
    deadline = time.monotonic() + settings.T2I_JOB_TIME_LIMIT_S
    event_publish(job=job, event={"type": "started", "job": job.pk, "total": job.total_steps})
    held = _still_held(job, owner)
    try:
        images, seeds, attention = with_retries(
            lambda: _generate(job, owner, deadline), what=f"job {job.pk}", between=held
        )
        with_retries(
            lambda: job_images_save(job=job, owner=owner, images=images, seeds=seeds, attention=attention),
            what=f"saving job {job.pk}",
            storage=True,
            between=held,
        )
        return job
    except LeaseLost as lost:
        logger.warning("job %s: %s; this worker lets it go", job.pk, lost)
        return None
    except GenerationCancelled:
        return _finish(job, owner, GenerationJob.Status.CANCELLED)
    except (JobTimeLimitExceeded, SoftTimeLimitExceeded):
        limit = settings.T2I_JOB_TIME_LIMIT_S
        return _finish(job, owner, GenerationJob.Status.FAILED, error=f"stopped at its time limit of {limit:g} s")
    except TransientOutage:
        logger.exception("job %s: storage or database outage outlasted the retries", job.pk)
        error = f"the database or image storage stayed unreachable for {settings.T2I_TRANSIENT_RETRY_S:g} s"
        return _finish(job, owner, GenerationJob.Status.FAILED, error=error)
    except Exception:  # the job says it failed, the log says why; the worker lives on for the next job
        logger.exception("job %s failed", job.pk)
        error = "The model could not make this image. The studio's log has the details; try again or another model."
        return _finish(job, owner, GenerationJob.Status.FAILED, error=error)


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
