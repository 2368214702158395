"""Leases and exactly-once results, with the worker-side service called directly (no Celery).

A job is run by one worker at a time: the holder of its lease. A second delivery while the lease is live is
dropped; an expired lease is taken over (one more attempt); a worker that lost its lease changes nothing.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from generation import progress
from generation.execution import generation_job_execute
from generation.models import GeneratedImage, GenerationJob
from generation.results import image_keys
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory


def _expired():
    return timezone.now() - timedelta(seconds=1)


def _storage():
    return GeneratedImage._meta.get_field("file").storage


def _job_files(job) -> list[str]:
    folder = f"images/{job.user_id}"
    if not _storage().exists(folder):
        return []
    return sorted(name for name in _storage().listdir(folder)[1] if name.startswith(f"job{job.pk}-"))


def _on_step(monkeypatch, action):
    """Run `action(job_id, step)` at the start of every denoising step of the worker."""
    original = progress.CallProgress.__call__

    def call(reporter, info):
        member = reporter.members[0]
        action(member.job.pk, member.step_of(info.step, info.total)[0])
        return original(reporter, info)

    monkeypatch.setattr(progress.CallProgress, "__call__", call)


def test_a_delivery_of_a_job_running_under_a_live_lease_is_dropped(alice, model_version):
    job = GenerationJobFactory(user=alice, status="running", attempts=1, lease_owner="other-host:9:abcd")

    assert generation_job_execute(job_id=job.pk) is None

    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_owner) == ("running", 1, "other-host:9:abcd")
    assert not job.images.exists()  # the job is not run a second time beside its worker


def test_an_expired_lease_is_taken_over_counting_an_attempt(alice, model_version):
    job = GenerationJobFactory(user=alice, status="running", attempts=1, lease_expires_at=_expired(), prompt__steps=2)

    generation_job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2 and job.images.count() == 1
    assert job.lease_owner == "" and job.lease_expires_at is None  # an ended job holds no lease


def test_after_its_last_attempt_a_job_fails_with_a_reason_a_person_understands(alice, model_version):
    job = GenerationJobFactory(
        user=alice, status="running", attempts=settings.T2I_JOB_MAX_ATTEMPTS, lease_expires_at=_expired()
    )

    assert generation_job_execute(job_id=job.pk) is None

    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == settings.T2I_JOB_MAX_ATTEMPTS
    assert job.error == (
        f"gave up after {settings.T2I_JOB_MAX_ATTEMPTS} attempts: "
        "the worker running this job stopped before it finished each time"
    )


def test_the_step_callback_renews_the_lease_with_each_progress_write(alice, model_version, monkeypatch, settings):
    settings.T2I_PROGRESS_WRITE_S = 0  # a write every step
    job = GenerationJobFactory(user=alice, prompt__steps=4)
    seen = []
    _on_step(monkeypatch, lambda job_id, step: seen.append(GenerationJob.objects.get(pk=job_id).lease_expires_at))

    generation_job_execute(job_id=job.pk)

    assert len(seen) == 4 and seen == sorted(seen) and len(set(seen)) == 4  # pushed further at each step
    assert seen[-1] > timezone.now() + timedelta(seconds=settings.T2I_JOB_LEASE_S / 2)


def test_short_steps_write_the_row_a_few_times_a_second_not_every_step(alice, model_version, monkeypatch, settings):
    settings.T2I_PROGRESS_WRITE_S = 60  # steps far shorter than the write interval
    job = GenerationJobFactory(user=alice, prompt__steps=4)
    seen = []
    _on_step(monkeypatch, lambda job_id, step: seen.append(GenerationJob.objects.get(pk=job_id).step))

    generation_job_execute(job_id=job.pk)

    assert seen == [0, 1, 1, 1]  # written at the first step only; each step's event still went out
    job.refresh_from_db()
    assert job.status == "succeeded" and job.step == job.total_steps == 4 and job.progress == 1.0


def test_a_worker_whose_lease_was_taken_over_stops_at_its_next_step_and_saves_nothing(
    alice, model_version, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.T2I_PROGRESS_WRITE_S = 0  # the takeover is found at the next write: here, the next step
    job = GenerationJobFactory(user=alice, prompt__steps=6, prompt__num_images=2)  # both images in one call

    def taken_over(job_id, step):
        if step == 4:  # another worker took the job over meanwhile (step 2 of both images)
            GenerationJob.objects.filter(pk=job_id).update(lease_owner="other-host:9:abcd")

    _on_step(monkeypatch, taken_over)
    with django_capture_on_commit_callbacks(execute=True):
        assert generation_job_execute(job_id=job.pk) is None

    job.refresh_from_db()
    assert job.status == "running" and job.lease_owner == "other-host:9:abcd"  # left to its new worker
    assert job.step == 2  # nothing written after the takeover
    assert not job.images.exists() and _job_files(job) == []


def test_the_database_allows_one_image_per_job_and_index(alice, model_version):
    image = GeneratedImageFactory(user=alice, index=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        GeneratedImageFactory(user=alice, job=image.job, index=0)


def test_an_image_lands_at_its_fixed_key_overwriting_what_an_earlier_attempt_left(alice, model_version):
    job = GenerationJobFactory(user=alice, prompt__steps=2, prompt__seed=5)
    key, _ = image_keys(job, index=0, seed=5)
    from django.core.files.base import ContentFile

    _storage().save(key, ContentFile(b"half-written by a killed attempt"))

    generation_job_execute(job_id=job.pk)

    image = job.images.get()
    assert image.file.name == key  # not key_<random>.png beside the leftover
    with image.file.open("rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert _job_files(job) == sorted([key.rpartition("/")[2], image.attention_maps.name.rpartition("/")[2]])


def test_a_job_that_fails_after_writing_its_files_leaves_none_behind(
    alice, model_version, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    job = GenerationJobFactory(user=alice, prompt__steps=2, prompt__num_images=2)

    written = []

    def broken(*args, **kwargs):
        written.append(_job_files(job))
        raise ValueError("rows refused")

    monkeypatch.setattr(GeneratedImage.objects, "bulk_create", broken)
    with django_capture_on_commit_callbacks(execute=True):
        generation_job_execute(job_id=job.pk)

    job.refresh_from_db()
    # the owner reads a short reason; the cause is in the log, never shown to users
    assert job.status == "failed" and "rows refused" not in job.error and "log" in job.error
    assert "rows refused" in caplog.text
    assert len(written[0]) == 4  # two images and their attention maps were in storage when the rows failed
    assert _job_files(job) == []  # and went with the failure
