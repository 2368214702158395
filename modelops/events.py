"""Arena events on a Channels group per match, fed by the worker that paints the pair, read by its voter's socket.

The same channel layer as the jobs' events (generation.events), and the same progress fields, but never a
model's name or step count: {"type": "progress", "match", "side", "percent", "eta_s"} while the pair is painted
(side "a", then "b", whichever model each is), then {"type": "ready", "match", "images": {"a", "b"}} or
{"type": "failed", "match", "error"}. A voter who joins late first gets {"type": "rendering"} or the end state.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from modelops.models import ArenaMatch

logger = logging.getLogger(__name__)
SIDES = ("a", "b")


def arena_group(match_id: int) -> str:
    return f"arena-{match_id}"


def arena_images_payload(match: ArenaMatch) -> dict:
    return {side: reverse("arena:arena_image", args=[match.pk, side]) for side in SIDES}


def arena_progress_event(match: ArenaMatch, *, side: str, percent: float, eta_s: float | None) -> dict:
    return {
        "type": "progress",
        "match": match.pk,
        "side": side,
        "percent": round(percent, 1),
        "eta_s": None if eta_s is None else round(eta_s, 2),
    }


def arena_state_event(match: ArenaMatch) -> dict:
    """What a late joiner (or the page's fallback poll) gets: the match as it stands now."""
    if match.status in (ArenaMatch.Status.READY, ArenaMatch.Status.VOTED):
        return {"type": "ready", "match": match.pk, "images": arena_images_payload(match)}
    if match.status == ArenaMatch.Status.FAILED:
        return {"type": "failed", "match": match.pk, "error": match.error}
    return {"type": "rendering", "match": match.pk}


def arena_event_publish(*, match: ArenaMatch, event: dict) -> None:
    """Best effort, as for jobs: a channel layer outage must not fail the pair; the row still has its state."""
    layer = get_channel_layer()
    message = {"type": "arena.event", "event": event}
    try:
        if hasattr(layer, "groups_send_blocking"):  # the embedded layer sends from this thread, no loop needed
            layer.groups_send_blocking([arena_group(match.pk)], message)
        else:
            async_to_sync(layer.group_send)(arena_group(match.pk), message)
    except Exception:
        logger.exception("could not publish %s event for arena match %s", event.get("type"), match.pk)
