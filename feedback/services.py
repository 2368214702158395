"""Feedback writes."""

from django.core.exceptions import ValidationError
from django.db import transaction

from feedback.models import Feedback

COMMENT_MAX_LENGTH = 2000


@transaction.atomic
def feedback_submit(*, user, image, rating: int, comment: str = "") -> Feedback:
    """Create or replace the user's feedback on an image they can see."""
    errors = {}
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = "must be an integer from 1 to 5"
    if len(comment or "") > COMMENT_MAX_LENGTH:
        errors["comment"] = f"must be at most {COMMENT_MAX_LENGTH} characters"
    if errors:
        raise ValidationError(errors)
    feedback, _ = Feedback.objects.update_or_create(
        user=user, image=image, defaults={"rating": rating, "comment": (comment or "").strip()}
    )
    return feedback
