"""Generation writes on the web side: submit a job, cancel it, re-run an image, change or delete an image.

The worker side (claiming a job and running the pipeline) lives in generation/execution.py.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from generation.events import event_publish, job_state_event
from generation.leases import lease_is_live
from generation.models import GeneratedImage, GenerationJob, Visibility
from generation.quotas import quota_check_submission
from generation.results import job_files_delete
from prompts.services import NUM_IMAGES_RANGE, text_prompt_create


def _check_visibility(visibility: str) -> None:
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": f"must be one of {', '.join(Visibility.values)}"})


@transaction.atomic
def generation_job_submit(
    *,
    user,
    text: str,
    negative_prompt: str = "",
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    width: int | None = None,
    height: int | None = None,
    num_images: int = 1,
    model: str | None = None,
    sampler: str | None = None,
    visibility: str = Visibility.PRIVATE,
    layout: tuple[int, int] | None = None,
) -> GenerationJob:
    """Prompt -> job row -> Celery task, enqueued only once the row is committed (the worker must see it).
    `layout` (rows, row): a one-image re-run made in that call layout (generation.batching)."""
    from generation.tasks import generation_job_run

    _check_visibility(visibility)
    quota_check_submission(user=user, num_images=num_images)
    prompt = text_prompt_create(
        user=user,
        text=text,
        negative_prompt=negative_prompt,
        seed=seed,
        steps=steps,
        guidance=guidance,
        width=width,
        height=height,
        num_images=num_images,
        model=model,
        sampler=sampler,
    )
    job = GenerationJob.objects.create(
        user=user,
        prompt=prompt,
        model_version=prompt.model_version,
        follows_champion=model is None,
        visibility=visibility,
        total_steps=prompt.steps * prompt.num_images,
        layout_rows=layout[0] if layout else 0,
        layout_row=layout[1] if layout else 0,
    )
    generation_job_run.delay_on_commit(job.pk)
    return job


@transaction.atomic
def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """A queued job, or a running one whose worker is gone (its lease expired), is cancelled at once; a running
    one is flagged and stops at its next denoising step (the reconciler ends it if its worker dies first)."""
    job = GenerationJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise ValidationError({"status": f"the job has already {job.status}"})
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if job.status == GenerationJob.Status.QUEUED or not lease_is_live(job):
        job.status = GenerationJob.Status.CANCELLED
        job.finished_at = timezone.now()
        job.lease_owner, job.lease_expires_at = "", None
        fields += ["status", "finished_at", "lease_owner", "lease_expires_at"]
        transaction.on_commit(lambda: job_files_delete(job=job), robust=True)
        transaction.on_commit(lambda: event_publish(job=job, event=job_state_event(job)))
    job.save(update_fields=fields)
    return job


def generation_image_rerun(*, image: GeneratedImage, user, new_seed: bool = False) -> GenerationJob:
    """The same prompt, settings and model version. With this image's own seed, in the layout of the call that made
    it: the same picture, pixel for pixel. With `new_seed`: a random seed, a new picture of the same prompt."""
    prompt = image.prompt
    return generation_job_submit(
        user=user,
        text=prompt.text_content,
        negative_prompt=prompt.negative_prompt,
        seed=None if new_seed else image.seed,
        steps=prompt.steps,
        guidance=prompt.guidance,
        width=image.width,
        height=image.height,
        num_images=1,
        model=image.model_version.version_name,
        sampler=prompt.sampler or None,
        layout=(image.batch_rows, image.batch_row) if image.batch_rows > 1 and not new_seed else None,
    )


VARIATIONS = NUM_IMAGES_RANGE[1]  # as many as one job may hold


def generation_image_vary_seed(*, image: GeneratedImage, user, num_images: int = VARIATIONS) -> GenerationJob:
    """One job of `num_images` neighbours of an image: its settings, seeds image.seed + 1 .. image.seed + n (a job's
    image i has its prompt's seed + i, generation.batching.call_plans)."""
    prompt = image.prompt
    return generation_job_submit(
        user=user,
        text=prompt.text_content,
        negative_prompt=prompt.negative_prompt,
        seed=image.seed + 1,
        steps=prompt.steps,
        guidance=prompt.guidance,
        width=image.width,
        height=image.height,
        num_images=num_images,
        model=image.model_version.version_name,
        sampler=prompt.sampler or None,
    )


@transaction.atomic
def generated_image_set_visibility(*, image: GeneratedImage, visibility: str) -> GeneratedImage:
    _check_visibility(visibility)
    image.visibility = visibility
    image.save(update_fields=["visibility"])
    return image


def generated_image_delete(*, image: GeneratedImage) -> None:
    names, storage = [f.name for f in (image.file, image.attention_maps) if f], image.file.storage
    with transaction.atomic():
        image.delete()
        for name in names:  # the files go only if the row really went
            transaction.on_commit(lambda name=name: storage.delete(name))
