"""The blind A/B arena: a signed-in user sees the champion's and the challenger's image for one prompt and
seed, in random order and unlabelled, and picks one (or a tie); only then are the models named.

A worker paints the pair, each version at its own defaults (steps, guidance, sampler, ranked candidates: what
users would get from it), the left image first, and streams its progress to the voter's page
(modelops.events) without naming either model.
"""

from __future__ import annotations

import io
import logging
import random
import re
import time

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from modelops.events import SIDES, arena_event_publish, arena_progress_event, arena_state_event
from modelops.models import ArenaMatch, ModelVersion
from modelops.services.versions import CHALLENGER

logger = logging.getLogger(__name__)


def _challenger() -> ModelVersion | None:
    rows = ModelVersion.objects.exclude(registry_version__isnull=True).filter(is_current=False)
    return next((row for row in rows if CHALLENGER in row.aliases), None)


_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def arena_prompt_text(text: str) -> str:
    """The prompt as a person reads it: "an" before a vowel ("an orange square"). The spec's canonical captions
    always say "a" (the shipped models were trained on them, so they stay so); the models also read "an" in
    their paraphrased captions."""
    return _A_BEFORE_VOWEL.sub(lambda m: f"{m.group(1)}n ", text)


def _arena_prompt(rng: random.Random) -> str:
    from ml_engine.evaluation.prompts import prompt_set

    return arena_prompt_text(rng.choice(prompt_set(2, seed=rng.randrange(1000))).text)


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
        steps=champion.default_steps,  # the challenger paints at its own defaults too
        champion_on_left=rng.random() < 0.5,
    )
    from modelops.tasks import arena_match_render_task

    transaction.on_commit(lambda: arena_match_render_task.delay(match.pk))
    return match


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class _PairProgress:
    """The step callback of one side's call: the pair's progress (side a is the first half), with an ETA."""

    def __init__(self, match: ArenaMatch):
        self.match = match
        self.started = time.monotonic()
        self.side = 0

    def publish(self, fraction_of_side: float) -> None:
        done = (self.side + fraction_of_side) / len(SIDES)
        elapsed = time.monotonic() - self.started
        eta_s = elapsed / done * (1 - done) if done > 0 else None
        event = arena_progress_event(self.match, side=SIDES[self.side], percent=100 * done, eta_s=eta_s)
        arena_event_publish(match=self.match, event=event)

    def __call__(self, info) -> None:
        self.publish(info.step / info.total if info.total else 1.0)


def _fail(match: ArenaMatch) -> ArenaMatch:
    match.status, match.error = ArenaMatch.Status.FAILED, "The pair could not be painted. Try another one."
    match.save(update_fields=["status", "error"])
    arena_event_publish(match=match, event=arena_state_event(match))
    return match


def arena_match_render(*, match: ArenaMatch) -> ArenaMatch:
    """On a worker: both versions, the same prompt and seed, the left side first (so the order says nothing about
    which model is which)."""
    from modelops.runtime import pipeline_load

    if match.status != ArenaMatch.Status.RENDERING:
        return match
    left, right = (match.champion, match.challenger) if match.champion_on_left else (match.challenger, match.champion)
    progress = _PairProgress(match)
    images = []
    try:
        for side, version in enumerate((left, right)):
            progress.side = side
            progress.publish(0.0)  # each side's start is shown, however fast its steps run
            pipe = pipeline_load(version.source)
            result = pipe(
                match.prompt,
                seed=match.seed,
                num_inference_steps=version.default_steps,
                callback_on_step_end=progress,
            )
            images.append(result.images[0])
    except Exception:  # the match says it failed; the details go to the log, not to the user; the worker lives on
        logger.exception("arena match %s could not be rendered", match.pk)
        return _fail(match)
    with transaction.atomic():
        match.left_image.save(f"match{match.pk}-a.png", ContentFile(_png(images[0])), save=False)
        match.right_image.save(f"match{match.pk}-b.png", ContentFile(_png(images[1])), save=False)
        match.status = ArenaMatch.Status.READY
        match.save(update_fields=["left_image", "right_image", "status"])
    arena_event_publish(match=match, event=arena_state_event(match))
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
