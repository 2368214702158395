"""Prompt reads."""

from django.db.models import QuerySet

from prompts.models import TextPrompt


def text_prompt_recent_for_user(*, user, limit: int = 8) -> QuerySet[TextPrompt]:
    return TextPrompt.objects.filter(user=user).select_related("model_version")[:limit]
