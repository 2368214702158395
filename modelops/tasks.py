"""Celery tasks (GPU queue): thin; take an id, re-read the row, call one service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from modelops.models import ArenaMatch, ModelVersion
from modelops.services import arena_match_render, model_version_evaluate

EVALUATION_TIME_LIMIT_S = 3600


@shared_task(bind=True, acks_late=True, max_retries=2, soft_time_limit=EVALUATION_TIME_LIMIT_S)
def model_version_evaluate_task(self, version_id: int) -> None:
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return
    try:
        model_version_evaluate(version=version)
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=5) from exc


@shared_task(bind=True, acks_late=True, max_retries=2, soft_time_limit=600)
def arena_match_render_task(self, match_id: int) -> None:
    match = ArenaMatch.objects.filter(pk=match_id).select_related("champion", "challenger").first()
    if match is None:
        return
    try:
        arena_match_render(match=match)
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=2) from exc
