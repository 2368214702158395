"""Celery tasks: thin; take an id, let the service re-read the row and decide whether it still wants running."""

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError

from generation.execution import generation_job_execute, pipeline_warm_up


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=2,
    soft_time_limit=settings.T2I_JOB_TIME_LIMIT_S,
    time_limit=settings.T2I_JOB_TIME_LIMIT_S + 30,
)
def generation_job_run(self, job_id: int) -> None:
    try:
        generation_job_execute(job_id=job_id)
    except (OperationalError, InterfaceError) as exc:  # a database blip: the row still says what to do
        raise self.retry(exc=exc, countdown=2) from exc


@worker_ready.connect
def _load_current_model(**kwargs) -> None:
    """Load the current model before the first job arrives, so an idle worker starts at once."""
    pipeline_warm_up()
