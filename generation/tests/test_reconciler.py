"""The reconciler, case by case: a running job whose worker is gone, a queued job whose message is gone, and
the jobs it must leave alone. Messages it sends are held (held_enqueue) so the test sees exactly what went out."""

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from generation.broker import broker_waiting_job_ids
from generation.execution import generation_job_execute
from generation.models import GenerationJob
from generation.reconciler import generation_jobs_reconcile
from generation.tests.factories import GenerationJobFactory


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_a_running_job_whose_lease_expired_is_queued_again_and_then_runs_to_the_end(alice, model_version, held_enqueue):
    job = GenerationJobFactory(
        user=alice, status="running", attempts=1, step=3, progress=0.6, lease_expires_at=_ago(1), prompt__steps=2
    )

    report = generation_jobs_reconcile()

    job.refresh_from_db()
    assert report.requeued == [job.pk] and held_enqueue.job_ids == [job.pk]
    assert (job.status, job.step, job.progress, job.lease_owner, job.lease_expires_at) == ("queued", 0, 0.0, "", None)
    generation_job_execute(job_id=job.pk)  # what the new message does on a worker
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2 and job.images.count() == 1


def test_a_running_job_whose_worker_died_on_its_last_attempt_fails_with_the_reason(alice, model_version, held_enqueue):
    job = GenerationJobFactory(
        user=alice, status="running", attempts=settings.T2I_JOB_MAX_ATTEMPTS, lease_expires_at=_ago(1)
    )

    report = generation_jobs_reconcile()

    job.refresh_from_db()
    assert report.failed == [job.pk] and held_enqueue.job_ids == []
    assert job.status == "failed" and job.finished_at is not None
    assert job.error.startswith(f"gave up after {settings.T2I_JOB_MAX_ATTEMPTS} attempts")


def test_a_cancel_requested_while_the_worker_was_gone_is_finished(alice, model_version, held_enqueue):
    # the page showed "Cancelling..." and no worker would ever reach the next step
    job = GenerationJobFactory(user=alice, status="running", cancel_requested=True, lease_expires_at=_ago(1))

    report = generation_jobs_reconcile()

    job.refresh_from_db()
    assert report.cancelled == [job.pk] and job.status == "cancelled" and held_enqueue.job_ids == []


def test_a_running_job_under_a_live_lease_is_left_to_its_worker(alice, model_version, held_enqueue):
    job = GenerationJobFactory(user=alice, status="running", attempts=1, step=2)

    assert not generation_jobs_reconcile()

    job.refresh_from_db()
    assert (job.status, job.step, job.attempts) == ("running", 2, 1) and held_enqueue.job_ids == []


def test_a_queued_job_whose_message_is_gone_is_sent_again(alice, model_version, held_enqueue, settings):
    settings.T2I_RECONCILE_QUEUED_AFTER_S = 5
    job = GenerationJobFactory(user=alice, enqueued_at=_ago(60))  # no message was ever sent: a broker restart

    report = generation_jobs_reconcile()

    job.refresh_from_db()
    assert report.resent == [job.pk] and held_enqueue.job_ids == [job.pk]
    assert job.status == "queued" and job.enqueued_at > _ago(5)
    assert not generation_jobs_reconcile()  # resent once per grace period, not at every pass


def test_a_queued_job_is_given_time_before_its_message_counts_as_gone(alice, model_version, held_enqueue, settings):
    settings.T2I_RECONCILE_QUEUED_AFTER_S = 30
    GenerationJobFactory(user=alice, enqueued_at=_ago(2))  # its message may still be on its way

    assert not generation_jobs_reconcile() and held_enqueue.job_ids == []


@pytest.fixture
def private_queue(settings):
    """A Redis queue of this test's own, which no worker consumes."""
    settings.T2I_GPU_QUEUE = name = f"reconcile-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield name
    client.delete(name)
    client.close()


def test_a_queued_job_whose_message_is_waiting_in_the_broker_is_not_sent_again(
    alice, model_version, private_queue, settings
):
    from generation.tasks import generation_job_run

    settings.T2I_RECONCILE_QUEUED_AFTER_S = 5
    job = GenerationJobFactory(user=alice, enqueued_at=_ago(60))  # a long queue: still waiting, not lost
    generation_job_run.apply_async(args=[job.pk], queue=private_queue)

    assert broker_waiting_job_ids() == {job.pk}
    assert not generation_jobs_reconcile()


def test_an_unacked_message_counts_only_while_fresh(private_queue, settings):
    """A worker that took a message and died before claiming its job leaves it unacked, invisible until the
    visibility timeout: an old unacked message of a queued job counts as gone."""
    from generation.tasks import generation_job_run

    generation_job_run.apply_async(args=[41], queue=private_queue)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    raw = json.loads(client.rpop(private_queue))  # as a worker takes it
    assert json.loads(base64.b64decode(raw["body"]))[0] == [41]
    fresh, stale = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    try:
        client.hset("unacked", fresh, json.dumps([raw, "", private_queue]))
        client.zadd("unacked_index", {fresh: time.time()})
        assert broker_waiting_job_ids(fresh_s=30) == {41}
        client.zadd("unacked_index", {fresh: time.time() - 60})
        assert broker_waiting_job_ids(fresh_s=30) == set()
    finally:
        client.hdel("unacked", fresh, stale)
        client.zrem("unacked_index", fresh, stale)
        client.close()


def test_the_filesystem_broker_is_inspected_by_its_message_files(private_queue, settings, tmp_path):
    from generation.tasks import generation_job_run

    generation_job_run.apply_async(args=[42], queue=private_queue)
    raw = redis.Redis.from_url(settings.CELERY_BROKER_URL).rpop(private_queue)
    (tmp_path / f"1_{uuid.uuid4()}.{private_queue}.msg").write_bytes(raw)  # kombu's file layout
    (tmp_path / f"2_{uuid.uuid4()}.another-queue.msg").write_bytes(raw)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}

    assert broker_waiting_job_ids() == {42}


def test_a_job_enqueued_twice_runs_once(worker, alice, held_enqueue, wait):
    from generation.services import generation_job_submit
    from generation.tasks import generation_job_run

    job = generation_job_submit(user=alice, text="a red circle", steps=3, num_images=2)
    after = generation_job_submit(user=alice, text="a blue square", steps=1)
    generation_job_run.delay(job.pk)
    generation_job_run.delay(job.pk)  # the reconciler and a broker redelivery both sent it
    generation_job_run.delay(after.pk)  # one worker takes them in order: when this one ends, both were handled

    wait(lambda: GenerationJob.objects.get(pk=after.pk).is_finished)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 1 and job.images.count() == 2
