"""The ratings part of the image page, rendered by the feedback app itself: the generation app's template places
it with `{% feedback_panel image %}` and never reads feedback's tables."""

from django import template

from feedback.selectors import feedback_list_for_image, feedback_of_user, feedback_summary

register = template.Library()


@register.inclusion_tag("feedback/panel.html", takes_context=True)
def feedback_panel(context, image):
    user = context["request"].user
    return {
        "image": image,
        "user": user,
        "csrf_token": context.get("csrf_token"),
        "summary": feedback_summary(image=image),
        "comments": feedback_list_for_image(image=image).exclude(comment=""),
        "my_feedback": feedback_of_user(image=image, user=user),
    }
