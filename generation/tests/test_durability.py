"""Limits and outages on a real Celery worker (solo pool, as the studio runs it): the time limit holds, and a
database or storage blip in the middle of a job is retried instead of failing it."""

import os
import subprocess
import sys

import psycopg
from django.conf import settings
from django.db import connection

from generation import execution, progress, results
from generation.models import GeneratedImage, GenerationJob
from generation.services import generation_job_submit


def _finished(job):
    job.refresh_from_db()
    return job.is_finished


def _terminate_backend(pid: int) -> None:
    """What a PostgreSQL restart does to one connection: the server drops it."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def _own_backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def test_the_time_limit_stops_a_job_under_the_solo_pool(worker, alice, wait, settings):
    # the solo pool ignores Celery's soft_time_limit: the step callback's deadline is what holds
    assert worker.pool_cls.__module__.endswith("solo")
    from modelops.runtime import pipeline_load

    # pinned (no registry lookup) and loaded beforehand, as a warm worker has it: the limit then bites mid-run
    pipeline_load("diffusion")
    settings.T2I_JOB_TIME_LIMIT_S = 0.5
    job = generation_job_submit(user=alice, text="a slow red circle", steps=100, num_images=4, model="diffusion")

    wait(lambda: _finished(job))

    assert job.status == "failed" and job.error == "stopped at its time limit of 0.5 s"
    assert 0 < job.step < job.total_steps and not job.images.exists()
    assert job.run_seconds < 3


def test_a_database_connection_lost_mid_job_is_retried_not_reported_as_the_jobs_failure(
    worker, alice, wait, monkeypatch
):
    original_step, original_save = progress.CallProgress.__call__, execution.job_images_save
    dropped = []

    def step(reporter, info):
        if info.step == 2 and not dropped:  # the server drops the worker's connection mid-run
            _terminate_backend(_own_backend_pid())
            dropped.append("step")
        return original_step(reporter, info)

    def save(**kwargs):
        if "save" not in dropped:  # and again as it saves
            _terminate_backend(_own_backend_pid())
            dropped.append("save")
        return original_save(**kwargs)

    monkeypatch.setattr(progress.CallProgress, "__call__", step)
    monkeypatch.setattr(execution, "job_images_save", save)
    job = generation_job_submit(user=alice, text="a red circle", steps=4, num_images=2)

    wait(lambda: _finished(job))

    assert dropped == ["step", "save"]
    assert job.status == "succeeded" and job.error == "" and job.attempts == 1
    assert sorted(job.images.values_list("index", flat=True)) == [0, 1]
    assert job.step == job.total_steps == 8  # the steps after the blip were recorded again


def test_a_storage_blip_while_saving_is_retried_and_leaves_one_file_per_image(worker, alice, wait, monkeypatch):
    original_put = results._put
    failures = []

    def put(key, data):
        if len(failures) < 2:
            failures.append(key)
            raise ConnectionResetError("storage connection reset")
        return original_put(key, data)

    monkeypatch.setattr(results, "_put", put)
    job = generation_job_submit(user=alice, text="a red circle", steps=2, num_images=2)

    wait(lambda: _finished(job))

    assert job.status == "succeeded" and job.attempts == 1 and len(failures) == 2
    storage = GeneratedImage._meta.get_field("file").storage
    files = [name for name in storage.listdir(f"images/{alice.pk}")[1] if name.startswith(f"job{job.pk}-")]
    assert len(files) == 4 == 2 * job.images.count()  # two PNGs and their attention maps, no copies


def test_a_job_that_is_not_transient_still_fails_at_once(worker, alice, wait, monkeypatch):
    def broken(key, data):
        raise PermissionError("bucket policy refuses writes")

    monkeypatch.setattr(results, "_put", broken)
    job = generation_job_submit(user=alice, text="a red circle", steps=2)

    wait(lambda: _finished(job), timeout=10)
    assert job.status == GenerationJob.Status.FAILED and "could not make this image" in job.error
    assert "bucket policy" not in job.error  # the cause goes to the log, not to the user


def test_a_broker_visibility_timeout_shorter_than_a_job_stops_start_up():
    env = {**os.environ, "T2I_JOB_TIME_LIMIT_S": "600", "T2I_BROKER_VISIBILITY_TIMEOUT_S": "300"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "t2i_site.settings.local"},
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "T2I_BROKER_VISIBILITY_TIMEOUT_S=300 must exceed" in out.stderr
