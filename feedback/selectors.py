"""Feedback reads: an image's average and its comments."""

from django.db.models import Avg, Count, QuerySet

from feedback.models import Feedback


def feedback_summary(*, image) -> dict:
    summary = Feedback.objects.filter(image=image).aggregate(average=Avg("rating"), count=Count("id"))
    return {"average": summary["average"], "count": summary["count"]}


def feedback_list_for_image(*, image) -> QuerySet[Feedback]:
    return Feedback.objects.filter(image=image).select_related("user")


def feedback_of_user(*, image, user) -> Feedback | None:
    if not user.is_authenticated:
        return None
    return Feedback.objects.filter(image=image, user=user).first()
