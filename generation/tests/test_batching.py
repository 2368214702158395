"""Cross-job batching: queued jobs that can share a pipeline call run as one, each with its own seeds, progress,
cancel and result, in fair-share order; a re-run reproduces a batched image bit for bit."""

import io

import numpy as np
from PIL import Image

from generation import progress
from generation.execution import generation_job_execute
from generation.models import GenerationJob
from generation.services import generation_image_rerun, generation_job_cancel
from generation.tests.factories import GenerationJobFactory


def _queued(user, model_version, **prompt):
    options = {"steps": 3, "sampler": "DPM++ 2M", **prompt}  # named, as the job service records it
    return GenerationJobFactory(
        user=user, prompt__model_version=model_version, **{f"prompt__{k}": v for k, v in options.items()}
    )


def _pixels(image) -> np.ndarray:
    with image.file.open("rb") as f:
        return np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))


def _refreshed(*jobs):
    for job in jobs:
        job.refresh_from_db()
    return jobs


def test_queued_jobs_of_two_users_share_one_call_in_fair_share_order(alice, bob, model_version):
    a1, a2 = _queued(alice, model_version, seed=10), _queued(alice, model_version, seed=20, num_images=2)
    b1 = _queued(bob, model_version, seed=30)

    generation_job_execute(job_id=a1.pk)

    a1, a2, b1 = _refreshed(a1, a2, b1)
    assert {a1.status, a2.status, b1.status} == {"succeeded"}
    assert all(job.attempts == 1 and job.step == job.total_steps for job in (a1, a2, b1))
    images = {job.pk: list(job.images.order_by("index")) for job in (a1, a2, b1)}
    assert [i.seed for i in images[a2.pk]] == [20, 21] and images[b1.pk][0].seed == 30  # each job's own seeds
    # one call of four rows: alice's oldest, then bob's (his turn), then alice's next job's two images
    rows = {
        (job.pk, image.index): (image.batch_rows, image.batch_row) for job in (a1, a2, b1) for image in images[job.pk]
    }
    assert rows == {(a1.pk, 0): (4, 0), (b1.pk, 0): (4, 1), (a2.pk, 0): (4, 2), (a2.pk, 1): (4, 3)}


def test_a_rerun_of_a_batched_image_runs_in_its_layout_and_gives_the_same_pixels(alice, bob, model_version):
    first, second = _queued(alice, model_version, seed=5), _queued(bob, model_version, seed=6, text_content="a cross")
    generation_job_execute(job_id=first.pk)
    original = second.images.get()
    assert (original.batch_rows, original.batch_row) == (2, 1)

    rerun = generation_image_rerun(image=original, user=bob)
    assert (rerun.layout_rows, rerun.layout_row) == (2, 1)
    _queued(bob, model_version, seed=7)  # queued behind it: a re-run in a fixed layout shares no call
    generation_job_execute(job_id=rerun.pk)

    (rerun,) = _refreshed(rerun)
    copy = rerun.images.get()
    assert rerun.status == "succeeded" and (copy.seed, copy.batch_rows, copy.batch_row) == (6, 2, 1)
    assert np.array_equal(_pixels(copy), _pixels(original))
    assert GenerationJob.objects.filter(status="queued").count() == 1


def test_only_jobs_with_the_same_model_size_steps_guidance_and_negative_prompt_share(alice, bob, model_version):
    leader = _queued(alice, model_version)
    others = [
        _queued(bob, model_version, steps=4),
        _queued(bob, model_version, guidance=2.0),
        _queued(bob, model_version, negative_prompt="blue"),
    ]
    generation_job_execute(job_id=leader.pk)
    assert [job.status for job in _refreshed(*others)] == ["queued"] * 3
    assert leader.images.get().batch_rows == 1


def test_a_call_holds_at_most_the_configured_images(alice, bob, model_version, settings):
    settings.T2I_BATCH_MAX_IMAGES = 3
    jobs = [_queued(user, model_version) for user in (alice, bob, alice, bob)]
    big = _queued(bob, model_version, num_images=5)  # larger than a call: it runs alone, in calls of 3 and 2
    generation_job_execute(job_id=jobs[0].pk)
    assert [job.status for job in _refreshed(*jobs)] == ["succeeded"] * 3 + ["queued"]
    generation_job_execute(job_id=jobs[3].pk)  # bob's older job: the big one does not fit beside it
    assert big.images.count() == 0
    generation_job_execute(job_id=big.pk)
    assert [(i.batch_rows, i.batch_row) for i in big.images.order_by("index")] == [
        (3, 0),
        (3, 1),
        (3, 2),
        (2, 0),
        (2, 1),
    ]


def test_a_job_cancelled_mid_call_ends_at_once_while_the_others_finish(
    alice, bob, model_version, monkeypatch, settings
):
    settings.T2I_PROGRESS_WRITE_S = 0
    mine, theirs = _queued(alice, model_version, steps=4), _queued(bob, model_version, steps=4)
    original = progress.CallProgress.__call__

    def call(reporter, info):
        if info.step == 2:
            generation_job_cancel(job=theirs)
        return original(reporter, info)

    monkeypatch.setattr(progress.CallProgress, "__call__", call)
    generation_job_execute(job_id=mine.pk)

    mine, theirs = _refreshed(mine, theirs)
    assert theirs.status == "cancelled" and not theirs.images.exists()
    assert mine.status == "succeeded" and mine.images.get().batch_rows == 2


def test_the_message_of_a_job_that_ran_in_another_call_is_a_turn_for_the_next_due_job(alice, bob, model_version):
    first, mate = _queued(alice, model_version, seed=1), _queued(bob, model_version, seed=2)
    generation_job_execute(job_id=first.pk)
    assert _refreshed(mate)[0].status == "succeeded"  # it ran in first's call; its message is still in the queue
    later = _queued(alice, model_version, seed=3)

    assert generation_job_execute(job_id=mate.pk).pk == later.pk  # no wait for later's own message
    assert _refreshed(later)[0].status == "succeeded"
    assert generation_job_execute(job_id=later.pk) is None  # a spent message with nothing waiting: nothing runs
