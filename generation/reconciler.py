"""The reconciler: brings every job that lost its message or its worker back to a state that ends.

Run every T2I_RECONCILE_INTERVAL_S, by Celery beat in the server mode (generation.tasks) and by a thread of
`runstudio` in the embedded mode. Each pass, job by job under a row lock:

- a running job whose lease expired (its worker died or stalled) whose cancel was requested: cancelled;
- one that used up T2I_JOB_MAX_ATTEMPTS: failed, with a reason a person understands;
- any other: queued again with a new message (the next claim takes it over and counts an attempt);
- a queued job older than T2I_RECONCILE_QUEUED_AFTER_S whose message is not in the broker (a broker
  restart lost it; a worker died between taking it and claiming the job): its message is sent again.

Everything it does is safe to repeat, and a job enqueued twice still runs once: the claim drops a delivery
of a job that is finished or running under a live lease.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generation.broker import broker_waiting_job_ids
from generation.events import event_publish, job_state_event
from generation.leases import attempts_exhausted, give_up_reason, lease_expired_q
from generation.models import GenerationJob
from generation.results import job_files_delete

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)  # running jobs whose worker is gone, queued again
    resent: list[int] = field(default_factory=list)  # queued jobs whose message was gone
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requeued or self.resent or self.failed or self.cancelled)


def _enqueue(job: GenerationJob) -> None:
    from generation.tasks import generation_job_run

    generation_job_run.delay_on_commit(job.pk)


def _locked(job_id: int) -> GenerationJob | None:
    # skip_locked: a job that a worker is claiming or ending right now is left to that worker
    return GenerationJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()


def _end(job: GenerationJob, status: str, error: str = "") -> None:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.lease_owner, job.lease_expires_at = "", None
    job.save(update_fields=["status", "error", "finished_at", "lease_owner", "lease_expires_at"])
    transaction.on_commit(lambda: job_files_delete(job=job), robust=True)
    transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))


@transaction.atomic
def _running_job_recover(*, job_id: int, now: datetime, report: ReconcileReport) -> None:
    job = _locked(job_id)
    expired = GenerationJob.objects.filter(pk=job_id, status=GenerationJob.Status.RUNNING).filter(lease_expired_q(now))
    if job is None or not expired.exists():  # renewed or ended since the pass looked
        return
    if job.cancel_requested:
        _end(job, GenerationJob.Status.CANCELLED)
        report.cancelled.append(job.pk)
    elif attempts_exhausted(job):
        _end(job, GenerationJob.Status.FAILED, give_up_reason(job))
        report.failed.append(job.pk)
    else:
        logger.warning("job %s: its worker %s stopped; queued again", job.pk, job.lease_owner)
        job.status, job.lease_owner, job.lease_expires_at = GenerationJob.Status.QUEUED, "", None
        job.progress, job.step, job.enqueued_at = 0.0, 0, now
        job.save(update_fields=["status", "lease_owner", "lease_expires_at", "progress", "step", "enqueued_at"])
        _enqueue(job)
        transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))
        report.requeued.append(job.pk)


@transaction.atomic
def _queued_job_resend(*, job_id: int, before: datetime, report: ReconcileReport) -> None:
    job = _locked(job_id)
    if job is None or job.status != GenerationJob.Status.QUEUED or job.enqueued_at >= before:
        return
    logger.warning("job %s: its message is gone from the broker; sent again", job.pk)
    job.enqueued_at = timezone.now()
    job.save(update_fields=["enqueued_at"])
    _enqueue(job)
    report.resent.append(job.pk)


def generation_jobs_reconcile(*, now: datetime | None = None) -> ReconcileReport:
    """One pass over the unfinished jobs; returns what it changed."""
    now = now or timezone.now()
    report = ReconcileReport()
    running = GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING).filter(lease_expired_q(now))
    for job_id in running.values_list("pk", flat=True):
        _running_job_recover(job_id=job_id, now=now, report=report)
    before = now - timedelta(seconds=settings.T2I_RECONCILE_QUEUED_AFTER_S)
    stale = GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED, enqueued_at__lt=before)
    stale_ids = list(stale.values_list("pk", flat=True))
    if stale_ids:
        waiting = broker_waiting_job_ids()  # read after the rows: a message sent meanwhile is seen, not doubled
        for job_id in stale_ids:
            if waiting is None or job_id not in waiting:
                _queued_job_resend(job_id=job_id, before=before, report=report)
    if report:
        logger.info("reconciled jobs: %s", report)
    return report
