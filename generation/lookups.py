"""One home for the pages' and the API's "fetch it or refuse" lookups, so both answer alike.

Not visible to the user at all: 404 (whether it exists is not theirs to learn). Visible but someone else's (a public
image): 403 for changes. Django's Http404 and PermissionDenied become the same statuses in DRF views.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from generation import selectors
from generation.models import GeneratedImage, GenerationJob


def job_or_404(*, user, job_id: int) -> GenerationJob:
    job = selectors.job_get_for_user(user=user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return job


def image_or_404(*, user, image_id: int) -> GeneratedImage:
    image = selectors.image_get_for_user(user=user, image_id=image_id)
    if image is None:
        raise Http404("No such image.")
    return image


def owned_image_or_403(*, user, image_id: int) -> GeneratedImage:
    image = image_or_404(user=user, image_id=image_id)
    if image.user_id != user.pk:
        raise PermissionDenied("Only the owner can change this image.")
    return image
