"""Celery tasks: thin; take an id, let the service re-read the row and decide whether it still wants running.

generation_job_run is acked late, one at a time per worker: its message goes only when the job ended or was
found not to want running. Its time limit holds in any pool: the step callback checks a deadline (the solo
pool, which the workers use so that a GPU model is loaded once, ignores Celery's limits); prefork also gets
Celery's soft and hard limits. A SIGKILLed worker leaves its job running under a lease that expires; the
reconciler, run here by Celery beat on the control queue, queues it again.
"""

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError

from generation.execution import generation_job_execute, job_images_score, pipeline_warm_up
from generation.reconciler import generation_jobs_reconcile as reconcile


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=5,
    soft_time_limit=settings.T2I_JOB_TIME_LIMIT_S,
    time_limit=settings.T2I_JOB_TIME_LIMIT_S + 30,
)
def generation_job_run(self, job_id: int) -> None:
    try:
        generation_job_execute(job_id=job_id)
    except (OperationalError, InterfaceError) as exc:  # the database was away before the job was claimed
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc


@shared_task(ignore_result=True)
def generation_images_score(job_ids: list[int]) -> None:
    """The realism and alignment scores of finished jobs' images (generation.scoring); scoring twice is harmless."""
    job_images_score(job_ids=job_ids)


@shared_task(ignore_result=True)
def generation_jobs_reconcile() -> None:
    reconcile()


@worker_ready.connect
def _load_current_model(sender=None, **kwargs) -> None:
    """Load the current model before the first job arrives, so an idle worker starts at once (a worker that
    serves only the control queue has no model to load)."""
    queues = {queue.name for queue in sender.app.amqp.queues.consume_from.values()} if sender else set()
    if not queues or settings.T2I_GPU_QUEUE in queues:
        pipeline_warm_up()
