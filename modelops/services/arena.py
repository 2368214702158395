"""The blind A/B arena: a signed-in user sees the champion's and the challenger's image for one prompt and
seed, in random order and unlabelled, and picks one (or a tie). Images are rendered on a worker."""

from __future__ import annotations

import io
import logging
import random

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from modelops.models import ArenaMatch, ModelVersion
from modelops.services.versions import CHALLENGER

logger = logging.getLogger(__name__)


def _challenger() -> ModelVersion | None:
    rows = ModelVersion.objects.exclude(registry_version__isnull=True).filter(is_current=False)
    return next((row for row in rows if CHALLENGER in row.aliases), None)


def _arena_prompt(rng: random.Random) -> str:
    from ml_engine.evaluation.prompts import prompt_set

    return rng.choice(prompt_set(2, seed=rng.randrange(1000))).text


@transaction.atomic
def arena_match_create(*, user) -> ArenaMatch:
    champion = ModelVersion.objects.filter(is_current=True).first()
    challenger = _challenger()
    if champion is None or challenger is None:
        raise ValidationError({"arena": "the arena needs a champion and a challenger"})
    rng = random.SystemRandom()
    match = ArenaMatch.objects.create(
        user=user,
        champion=champion,
        challenger=challenger,
        prompt=_arena_prompt(rng),
        seed=rng.randrange(2**31),
        steps=settings.T2I_ARENA_STEPS,
        champion_on_left=rng.random() < 0.5,
    )
    from modelops.tasks import arena_match_render_task

    transaction.on_commit(lambda: arena_match_render_task.delay(match.pk))
    return match


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def arena_match_render(*, match: ArenaMatch) -> ArenaMatch:
    """On a worker: both versions, the same prompt, seed and steps."""
    from modelops.runtime import pipeline_load

    if match.status != ArenaMatch.Status.RENDERING:
        return match
    try:
        images = {}
        for role, version in (("champion", match.champion), ("challenger", match.challenger)):
            pipe = pipeline_load(version.source)
            images[role] = pipe(match.prompt, seed=match.seed, num_inference_steps=match.steps).images[0]
    except Exception:  # the match says it failed; the details go to the log, not to the user; the worker lives on
        logger.exception("arena match %s could not be rendered", match.pk)
        match.status, match.error = ArenaMatch.Status.FAILED, "The pair could not be painted. Try another one."
        match.save(update_fields=["status", "error"])
        return match
    left, right = ("champion", "challenger") if match.champion_on_left else ("challenger", "champion")
    with transaction.atomic():
        match.left_image.save(f"match{match.pk}-a.png", ContentFile(_png(images[left])), save=False)
        match.right_image.save(f"match{match.pk}-b.png", ContentFile(_png(images[right])), save=False)
        match.status = ArenaMatch.Status.READY
        match.save(update_fields=["left_image", "right_image", "status"])
    return match


@transaction.atomic
def arena_vote_record(*, match: ArenaMatch, user, choice: str) -> ArenaMatch:
    match = ArenaMatch.objects.select_for_update().get(pk=match.pk)
    if match.user_id != user.pk:
        raise ValidationError({"match": "not your match"})
    if choice not in ArenaMatch.Choice.values:
        raise ValidationError({"choice": f"must be one of {', '.join(ArenaMatch.Choice.values)}"})
    if match.status != ArenaMatch.Status.READY:
        raise ValidationError({"match": f"this match is {match.status}, not open for a vote"})
    match.choice, match.status, match.voted_at = choice, ArenaMatch.Status.VOTED, timezone.now()
    match.save(update_fields=["choice", "status", "voted_at"])
    return match
