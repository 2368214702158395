"""The worker-side service called directly (no Celery): claiming, resuming, giving up."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from generation.execution import generation_job_execute
from generation.models import GenerationJob
from generation.tests.factories import GenerationJobFactory


def _expired():
    return timezone.now() - timedelta(seconds=1)


def test_a_queued_job_runs_and_saves_one_image_per_requested_image(alice, model_version):
    job = GenerationJobFactory(user=alice, prompt__num_images=2, prompt__steps=2)
    generation_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.images.count() == 2 and job.step == job.total_steps == 4


def test_a_job_left_running_by_a_dead_worker_is_resumed_when_redelivered(alice, model_version):
    job = GenerationJobFactory(user=alice, status="running", attempts=1, prompt__steps=2, lease_expires_at=_expired())
    generation_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2


def test_a_job_that_used_up_its_attempts_fails_instead_of_running_again(alice, model_version):
    job = GenerationJobFactory(
        user=alice, status="running", attempts=settings.T2I_JOB_MAX_ATTEMPTS, lease_expires_at=_expired()
    )
    assert generation_job_execute(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == settings.T2I_JOB_MAX_ATTEMPTS and "gave up" in job.error


def test_finished_and_missing_jobs_are_skipped(alice, model_version):
    done = GenerationJobFactory(user=alice, status=GenerationJob.Status.SUCCEEDED)
    assert generation_job_execute(job_id=done.pk) is None
    assert generation_job_execute(job_id=done.pk + 999) is None
