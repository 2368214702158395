"""A real Celery worker runs jobs end to end: progress, images with infotext, cancellation, failures."""

import io

import pytest
from PIL import Image

from generation.models import GeneratedImage, GenerationJob
from generation.services import generation_image_rerun, generation_job_cancel, generation_job_submit


def _finished(job):
    job.refresh_from_db()
    return job.is_finished


def test_submitted_job_runs_to_success_with_images_and_infotext(worker, alice, wait):
    job = generation_job_submit(user=alice, text="a red circle", steps=4, seed=11, num_images=2)

    wait(lambda: _finished(job))

    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    assert job.progress == 1.0 and job.step == job.total_steps == 8 and job.attempts == 1  # 2 images x 4 steps
    assert job.started_at and job.finished_at and job.preview.startswith("data:image/webp;base64,")
    images = list(job.images.order_by("index"))
    assert [image.seed for image in images] == [11, 12]  # image i uses seed + i
    with images[1].file.open("rb") as f:
        png = Image.open(io.BytesIO(f.read()))
        png.load()
    assert png.size == (64, 64)
    assert png.text["parameters"] == (
        "a red circle\nSteps: 4, Sampler: DPM++ 2M, CFG scale: 4, Seed: 12, Size: 64x64, Model: diffusion"
    )


def test_rerun_of_the_second_image_reproduces_its_pixels_exactly(worker, alice, bob, wait):
    job = generation_job_submit(user=alice, text="two blue squares", steps=3, seed=40, num_images=2)
    wait(lambda: _finished(job))
    original = job.images.get(index=1)
    original.visibility = "public"
    original.save()

    rerun = generation_image_rerun(image=original, user=bob)  # another user re-runs a public image
    wait(lambda: _finished(rerun))

    copy = rerun.images.get()
    assert rerun.status == GenerationJob.Status.SUCCEEDED and copy.seed == 41 and copy.user == bob

    def pixels(image):
        with image.file.open("rb") as f:
            return Image.open(io.BytesIO(f.read())).convert("RGB").tobytes()

    assert pixels(copy) == pixels(original)


def test_cancelling_a_running_job_stops_it_between_steps(worker, alice, wait):
    job = generation_job_submit(user=alice, text="a slow green triangle", steps=100, seed=1)
    wait(lambda: GenerationJob.objects.filter(pk=job.pk, step__gte=1).exists())

    generation_job_cancel(job=job)
    wait(lambda: _finished(job))

    assert job.status == GenerationJob.Status.CANCELLED
    assert job.step < 100  # it stopped early rather than running to the end
    assert not GeneratedImage.objects.filter(job=job).exists()


def test_a_job_cancelled_while_queued_is_never_run(worker, alice, wait, held_enqueue):
    job = generation_job_submit(user=alice, text="a yellow circle", steps=3)
    generation_job_cancel(job=job)
    held_enqueue.release()  # the task reaches the worker only after the cancel

    from generation.tasks import generation_job_run

    generation_job_run.apply(args=[job.pk])  # runs after the worker's copy (solo pool): both must skip
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED and job.attempts == 0 and job.started_at is None


def test_a_model_that_cannot_load_fails_the_job_with_a_short_reason(worker, alice, wait, settings):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(version_name="missing", source="/nonexistent/model", is_current=False)
    job = generation_job_submit(user=alice, text="a red circle", model="missing")
    wait(lambda: _finished(job))

    assert job.status == GenerationJob.Status.FAILED
    assert "could not make this image" in job.error and job.finished_at is not None
    assert "FileNotFoundError" not in job.error and "/nonexistent" not in job.error  # paths stay in the log


@pytest.mark.parametrize("field", ["steps"])
def test_submit_rejects_out_of_range_values_before_queueing(alice, model_version, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        generation_job_submit(user=alice, text="x", **{field: 0})
    assert field in error.value.message_dict
    assert not GenerationJob.objects.exists()
