"""Generation reads. Privacy lives here: a job is its owner's alone; an image is its owner's or public."""

from __future__ import annotations

import base64
import io

from django.db.models import Avg, Count, F, Q, QuerySet

from generation.models import GeneratedImage, GenerationJob, Visibility


def job_list_for_user(*, user) -> QuerySet[GenerationJob]:
    return GenerationJob.objects.filter(user=user).select_related("prompt", "model_version").prefetch_related("images")


def job_get_for_user(*, user, job_id: int) -> GenerationJob | None:
    """None for anyone but the owner, staff included: the caller answers 404, never 403."""
    if not user.is_authenticated:
        return None
    return job_list_for_user(user=user).filter(pk=job_id).first()


def job_active_for_user(*, user) -> QuerySet[GenerationJob]:
    return job_list_for_user(user=user).filter(status__in=[GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING])


def _images() -> QuerySet[GeneratedImage]:
    return (
        GeneratedImage.objects.select_related("prompt", "user", "model_version", "job")
        .annotate(rating_average=Avg("feedback__rating"), rating_count=Count("feedback"))
        .order_by("-created_at", "-id")
    )  # aggregation drops Meta.ordering; pagination needs a stable order


def image_visible_to(*, user) -> QuerySet[GeneratedImage]:
    visible = Q(visibility=Visibility.PUBLIC)
    if user.is_authenticated:
        visible |= Q(user=user)
    return _images().filter(visible)


def image_get_for_user(*, user, image_id: int) -> GeneratedImage | None:
    return image_visible_to(user=user).filter(pk=image_id).first()


SEARCH_MAX_LENGTH = 200  # longer than any useful search; a cap keeps a LIKE scan from being fed megabytes


# the gallery's orders, best first; images without the score (other domains) go last, then newest first
IMAGE_SORTS = {
    "newest": ("-created_at", "-id"),
    "alignment": (F("alignment_score").desc(nulls_last=True), "-created_at", "-id"),
    "realism": (F("realism_score").desc(nulls_last=True), "-created_at", "-id"),
    "rating": (F("rating_average").desc(nulls_last=True), "-rating_count", "-created_at", "-id"),
}


def image_search(*, user, scope: str, query: str = "", sort: str = "newest") -> QuerySet[GeneratedImage]:
    """scope "mine": the user's images; "public": everyone's public ones. `query` matches the prompt text; `sort`
    is one of IMAGE_SORTS."""
    if sort not in IMAGE_SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    if len(query) > SEARCH_MAX_LENGTH:
        raise ValueError(f"a search is at most {SEARCH_MAX_LENGTH} characters")
    if scope == "mine":
        images = _images().filter(user=user) if user.is_authenticated else GeneratedImage.objects.none()
    elif scope == "public":
        images = _images().filter(visibility=Visibility.PUBLIC)
    else:
        raise ValueError(f"unknown scope {scope!r}")
    query = query.strip()
    if query:
        images = images.filter(prompt__text_content__icontains=query)
    return images.order_by(*IMAGE_SORTS[sort])


def image_attention_get(*, image: GeneratedImage) -> dict | None:
    """The image's per-word attention maps for the overlay (None when it has none): the words in order, the
    size of one map, and the maps as a grayscale PNG data URL with word i in rows i*height..(i+1)*height."""
    if not image.has_attention:
        return None
    from PIL import Image

    with image.attention_maps.open("rb") as f:
        png = f.read()
    width, total_height = Image.open(io.BytesIO(png)).size
    words = list(image.attention_words)
    return {
        "words": words,
        "width": width,
        "height": total_height // len(words),
        "maps": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
    }


def image_score_rows(*, model: str = ""):
    """Scored images, oldest first, as plain rows for evaluation exports (export_image_scores)."""
    images = _images().filter(realism_score__isnull=False).order_by("created_at", "id")
    if model:
        images = images.filter(model_version__version_name=model)
    for image in images.iterator(chunk_size=500):
        yield {
            "image": image.pk,
            "model": image.model_version.version_name,
            "prompt": image.prompt.text_content,
            "seed": image.seed,
            "realism": image.realism_score,
            "realism_percentile": image.scores.get("realism_percentile"),
            "alignment": image.alignment_score,
            "judge": image.scores.get("judge"),
            "rating_average": image.rating_average,
            "rating_count": image.rating_count,
            "created_at": image.created_at.isoformat(),
        }
