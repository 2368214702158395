"""The worker side of a job: claim the row under a lease, with the queued jobs that can share its pipeline calls
(generation.batching), run the ml_engine pipeline with a step callback, save each job's images (and, when the
model gives them, each image's per-word attention maps) exactly once.

The step callback (generation.progress) publishes every step and, a few times a second, renews each job's lease
and records its progress in one statement conditioned on the lease and the cancel flag: no row updated means the
job was cancelled (it ends, the call goes on for the others) or another worker took it over (LeaseLost). It also
enforces the time limit, whatever the Celery pool (the solo pool ignores Celery's own limits). A database or
storage blip is retried (generation.transient), never reported as the jobs' failure.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generation.batching import batch_mates, call_plans
from generation.events import event_publish, job_state_event
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
from generation.progress import CallProgress, JobTimeLimitExceeded
from generation.results import MadeImage, job_files_delete, job_images_save
from generation.scoring import image_pixels, image_scores_record, images_score, images_unscored, scorer_warm_up
from generation.transient import DATABASE_ERRORS, TransientOutage, with_retries
from modelops.runtime import pipeline_load
from modelops.selectors import model_version_champion, model_version_current

logger = logging.getLogger(__name__)


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
    """A delivery is a turn to run the job that is due under fair share (generation.fair_share): if that is another
    user's, run it (the delivered job may share its call; if not, its message is sent again, so every queued job
    keeps one). The message of a job that already ran (in another's call) or runs under a live lease is a turn
    too: the due job runs now instead of waiting for its own message behind the spent ones."""
    delivered = GenerationJob.objects.filter(pk=job_id).only("status", "lease_expires_at").first()
    status = delivered.status if delivered is not None else None
    taken_over = status == GenerationJob.Status.RUNNING and not lease_is_live(delivered)  # its worker died
    spent = status != GenerationJob.Status.QUEUED and not taken_over
    # with no other job waiting, the delivered one is due: no rotation to work out
    others = GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED).exclude(pk=job_id)
    if not taken_over and others.exists():
        for due_id in job_due_ids():
            if due_id == job_id:
                break
            job = _claim(due_id, owner)
            if job is not None:
                logger.info("job %s is due before job %s (fair share)", due_id, job_id)
                return job
    return None if spent else _claim(job_id, owner)


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


class _Batch:
    """The jobs one turn runs in shared calls (generation.batching), under one lease owner and deadline."""

    def __init__(self, leader: GenerationJob, owner: str, deadline: float, *, delivered: int):
        self.jobs = [leader]
        self.owner = owner
        self.deadline = deadline
        self.delivered = delivered  # the job whose message this turn came with
        self.stopped: set[int] = set()  # cancelled or taken over: the call went on without them
        self.mates_taken = False
        self.settled = False

    @property
    def live(self) -> list[GenerationJob]:
        return [job for job in self.jobs if job.pk not in self.stopped]

    def take_mates(self) -> None:
        """The leader follows the champion, then queued jobs that can share its calls are claimed (once)."""
        self.jobs[0] = _follow_champion(self.jobs[0])
        if self.mates_taken:
            return
        self.mates_taken = True
        for candidate in batch_mates(self.jobs[0]):
            mate = _claim(candidate.pk, self.owner)
            if mate is not None:
                self.jobs.append(mate)
                event_publish(job=mate, event={"type": "started", "job": mate.pk, "total": mate.total_steps})
        if len(self.jobs) > 1:
            logger.info("jobs %s share their calls", [job.pk for job in self.jobs])
        self.settle_delivery()

    def settle_delivery(self) -> None:
        """The delivered job, if this turn does not run it and it still waits, gets its message back (once)."""
        if self.settled or self.delivered in {job.pk for job in self.jobs}:
            return
        self.settled = True
        if GenerationJob.objects.filter(pk=self.delivered, status=GenerationJob.Status.QUEUED).exists():
            from generation.tasks import generation_job_run

            generation_job_run.delay(self.delivered)  # it waits its turn

    def hold(self) -> None:
        """Between retries: renew every lease; a job taken over meanwhile is let go."""
        for job in self.live:
            if not job_lease_renew(job_id=job.pk, owner=self.owner):
                logger.warning("job %s was taken over while its worker waited out an outage", job.pk)
                self.stopped.add(job.pk)
        if not self.live:
            raise LeaseLost(f"jobs {[job.pk for job in self.jobs]} were taken over")

    def cancelled(self, job: GenerationJob) -> None:
        self.stopped.add(job.pk)
        _finish(job, self.owner, GenerationJob.Status.CANCELLED)

    def end_all(self, status: str, error: str = "") -> None:
        for job in self.live:
            _finish(job, self.owner, status, error=error)


def _generate(batch: _Batch) -> dict[int, list[MadeImage]]:
    """Every live job's images, as {job id: [MadeImage, ...] by index}."""
    import torch

    from ml_engine.attention import supports_attention

    batch.take_mates()
    leader = batch.jobs[0]
    pipe = pipeline_load(leader.model_version.source)
    batch.hold()  # loading may have taken a while
    # each image keeps what its prompt's words attended to, when the model can say (not real SD models)
    extra = {"return_attention": True} if supports_attention(pipe) else {}
    prompt = leader.prompt
    if prompt.sampler:  # blank: the model's own (or, for a one-pass model, none)
        extra["sampler"] = prompt.sampler
    made: dict[int, list] = {job.pk: [None] * job.prompt.num_images for job in batch.live}
    for plan in call_plans(batch.live):
        members = [member for member in plan.members if member.job.pk not in batch.stopped]
        if not members:
            continue
        progress = CallProgress(members, owner=batch.owner, deadline=batch.deadline, on_cancelled=batch.cancelled)
        started = time.perf_counter()
        result = pipe(
            plan.prompts,
            negative_prompt=prompt.negative_prompt or None,
            num_inference_steps=prompt.steps,
            guidance_scale=prompt.guidance,
            generator=[torch.Generator("cpu").manual_seed(seed) for seed in plan.seeds],
            callback_on_step_end=progress,
            height=prompt.height,
            width=prompt.width,
            **extra,
        )
        logger.info(
            "jobs %s: a call of %d images in %.0f ms",
            [m.job.pk for m in members],
            plan.rows,
            (time.perf_counter() - started) * 1000,
        )
        attention = result.attention or [None] * plan.rows
        for row, (member, index) in plan.images.items():
            if member.job.pk in made:
                made[member.job.pk][index] = MadeImage(
                    result.images[row], plan.seeds[row], attention[row], (plan.rows, row)
                )
    return {job_id: images for job_id, images in made.items() if job_id not in batch.stopped}


def _save(batch: _Batch, made: dict[int, list[MadeImage]]) -> None:
    for job in batch.live:
        try:
            with_retries(
                lambda job=job: job_images_save(job=job, owner=batch.owner, made=made[job.pk]),
                what=f"saving job {job.pk}",
                storage=True,
                between=batch.hold,
            )
        except LeaseLost as lost:
            logger.warning("job %s: %s; this worker lets it go", job.pk, lost)


def _score_later(batch: _Batch) -> None:
    """The saved images' scores, in a task of their own: queued behind the jobs already waiting, it never holds
    them up (generation.scoring)."""
    if not settings.T2I_IMAGE_SCORES:
        return
    from generation.tasks import generation_images_score

    done = [job.pk for job in batch.live if job.status == GenerationJob.Status.SUCCEEDED]
    if done:
        generation_images_score.delay(done)


def job_images_score(*, job_ids: list[int]) -> None:
    """Record the realism and alignment scores of the jobs' images that have none yet, a call per model."""
    by_source: dict[str, list] = {}
    for image in images_unscored(job_ids=job_ids):
        by_source.setdefault(image.model_version.source, []).append(image)
    for source, images in by_source.items():
        pipe = pipeline_load(source)
        scores = images_score(pipe, [image_pixels(image) for image in images], [i.prompt.text_content for i in images])
        for image, image_scores in zip(images, scores, strict=True):
            if image_scores is not None:
                image_scores_record(image=image, scores=image_scores)


def generation_job_execute(*, job_id: int) -> GenerationJob | None:
    """Run the job due now (normally `job_id`) and the queued jobs that share its calls, each to its end. Returns
    the job that led, or None when nothing wants running here (cancelled, done, gone, or running under another
    worker's lease)."""
    from celery.exceptions import SoftTimeLimitExceeded

    from ml_engine.pipelines import GenerationCancelled

    owner = lease_token()
    leader = _claim_due(job_id, owner)  # a database error here propagates: nothing is claimed, the task retries
    if leader is None:
        logger.info("job %s does not want running; skipped", job_id)
        return None
    batch = _Batch(leader, owner, time.monotonic() + settings.T2I_JOB_TIME_LIMIT_S, delivered=job_id)
    event_publish(job=leader, event={"type": "started", "job": leader.pk, "total": leader.total_steps})
    try:
        made = with_retries(lambda: _generate(batch), what=f"job {leader.pk}", between=batch.hold)
        _save(batch, made)
        try:
            _score_later(batch)
        except Exception:  # the broker is away: the images stand without their scores
            logger.exception("jobs %s: could not queue their scoring", [job.pk for job in batch.live])
        return leader
    except LeaseLost as lost:
        logger.warning("job %s: %s; this worker lets it go", leader.pk, lost)
        return None
    except GenerationCancelled:
        batch.end_all(GenerationJob.Status.CANCELLED)
        return leader
    except (JobTimeLimitExceeded, SoftTimeLimitExceeded):
        batch.end_all(GenerationJob.Status.FAILED, f"stopped at its time limit of {settings.T2I_JOB_TIME_LIMIT_S:g} s")
        return leader
    except TransientOutage:
        logger.exception("job %s: storage or database outage outlasted the retries", leader.pk)
        batch.end_all(
            GenerationJob.Status.FAILED,
            f"the database or image storage stayed unreachable for {settings.T2I_TRANSIENT_RETRY_S:g} s",
        )
        return leader
    except Exception:  # the jobs say they failed, the log says why; the worker lives on for the next job
        logger.exception("job %s failed", leader.pk)
        batch.end_all(
            GenerationJob.Status.FAILED,
            "The model could not make this image. The studio's log has the details; try again or another model.",
        )
        return leader
    finally:
        batch.settle_delivery()


def pipeline_warm_up() -> None:
    """Load the champion (by its registry alias; else the current row) before the first job arrives."""
    from modelops.runtime import champion_source

    try:
        version = model_version_current()
        source = champion_source() or (version.source if version is not None else None)
        if source is not None:
            pipeline_load(source)
            scorer_warm_up()
    except Exception:  # a broken model or database fails its jobs with a clear error; the worker still starts
        logger.warning("could not preload the current model", exc_info=True)
