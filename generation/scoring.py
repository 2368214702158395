"""The worker's per-image scores (ml_engine.evaluation.image_scores): realism and alignment for each Shapes image,
recorded by a task the worker runs once its jobs succeeded (generation.tasks.generation_images_score). Its message
queues behind the jobs already waiting, so neither a completion nor a waiting job waits on a score (scoring costs
17-37 ms an image on a CPU core, bench/bench_image_scores.py). Scoring is a courtesy to the gallery, never a reason
to lose a picture: a scorer that cannot load or fails leaves the scores empty."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import DatabaseError

from generation.models import GeneratedImage

logger = logging.getLogger(__name__)


@functools.cache
def _scorer():
    """One scorer a worker process, loaded on its first Shapes image (about a second); None if it cannot load."""
    from ml_engine.evaluation.image_scores import ImageScorer

    try:
        return ImageScorer.load()
    except Exception:
        logger.exception("the per-image scorer could not load; images are saved without scores")
        return None


def scorer_warm_up() -> None:
    if settings.T2I_IMAGE_SCORES:
        _scorer()


def images_score(pipe, images: list, prompts: list[str]) -> list[dict | None]:
    """Each image's scores ({"realism", "realism_percentile", "alignment", "judge"}), or None where it is not scored:
    a model outside the Shapes domain (it has no Shapes vocabulary) or another canvas size."""
    from ml_engine.evaluation.image_scores import ImageScorer

    nothing = [None] * len(images)
    if not settings.T2I_IMAGE_SCORES or getattr(pipe, "vocabulary", None) is None:
        return nothing
    if not all(ImageScorer.scores_image(image) for image in images) or (scorer := _scorer()) is None:
        return nothing
    try:
        scored = scorer(images, prompts)
    except Exception:
        logger.exception("scoring %d images failed; they are saved without scores", len(images))
        return nothing
    return [{**s.as_dict(), "judge": scorer.calibration.judge} for s in scored]


def images_unscored(*, job_ids: list[int]) -> list[GeneratedImage]:
    return list(
        GeneratedImage.objects.filter(job_id__in=job_ids, realism_score__isnull=True)
        .select_related("prompt", "model_version")
        .order_by("job_id", "index")
    )


def image_pixels(image: GeneratedImage):
    """The image as its pipeline made it (PNG is lossless)."""
    from PIL import Image

    with image.file.open("rb") as file:
        return Image.open(file).convert("RGB")


def image_scores_record(*, image: GeneratedImage, scores: dict) -> None:
    """Store one image's scores; a database blip loses only the scores, which the image can do without."""
    try:
        GeneratedImage.objects.filter(pk=image.pk).update(
            realism_score=scores["realism"], alignment_score=scores["alignment"], scores=scores
        )
    except DatabaseError:
        logger.warning("could not store the scores of image %s", image.pk, exc_info=True)
