"""Model version reads: lists, the staff dashboard (ratings, A/B results with Wilson intervals), the audit trail."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Avg, Count, QuerySet

from modelops.models import ArenaMatch, ModelChange, ModelVersion


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all()


def model_version_current() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_current=True).first()


def model_version_champion() -> ModelVersion | None:
    """The version jobs that name no model run: the studio's current version, which only the promotion services
    (and a staff `sync_models`) move. The MLflow `champion` alias follows it, but is not read here: a registry
    write alone must not change what users get."""
    return model_version_current()


def model_version_get(*, version_name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(version_name=version_name).first()


def model_version_get_by_id(*, version_id: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=version_id).first()


def model_version_rated_list() -> QuerySet[ModelVersion]:
    """Versions with the human ratings of their images: `rating_avg` (1-5) and `rating_count`."""
    return ModelVersion.objects.annotate(
        rating_avg=Avg("images__feedback__rating"), rating_count=Count("images__feedback")
    ).order_by("-is_current", "-registry_version", "-created_at")


def model_change_list(*, limit: int = 50) -> QuerySet[ModelChange]:
    return ModelChange.objects.select_related("actor", "from_version", "to_version")[:limit]


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (Wilson, 1927); (0, 1) when there is no data."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class ArenaPairResult:
    champion: ModelVersion
    challenger: ModelVersion
    votes: int
    challenger_wins: int
    champion_wins: int
    ties: int

    @property
    def win_rate(self) -> float:
        """The challenger's win rate, a tie counting half a win for each side."""
        return (self.challenger_wins + 0.5 * self.ties) / self.votes if self.votes else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.challenger_wins + 0.5 * self.ties, self.votes)


def arena_results() -> list[ArenaPairResult]:
    """One row per (champion, challenger) pair that has votes, newest pair first."""
    voted = ArenaMatch.objects.filter(status=ArenaMatch.Status.VOTED).select_related("champion", "challenger")
    pairs: dict[tuple[int, int], ArenaPairResult] = {}
    for match in voted.order_by("-created_at"):
        key = (match.champion_id, match.challenger_id)
        result = pairs.setdefault(key, ArenaPairResult(match.champion, match.challenger, 0, 0, 0, 0))
        result.votes += 1
        winner = match.winner
        if winner == "challenger":
            result.challenger_wins += 1
        elif winner == "champion":
            result.champion_wins += 1
        else:
            result.ties += 1
    return list(pairs.values())


def arena_match_open_for(*, user) -> ArenaMatch | None:
    """The user's match still rendering or waiting for a vote, if any."""
    return (
        ArenaMatch.objects.filter(user=user, status__in=[ArenaMatch.Status.RENDERING, ArenaMatch.Status.READY])
        .order_by("-created_at")
        .first()
    )


def arena_match_get(*, match_id: int, user) -> ArenaMatch | None:
    """Only its voter sees a match (and its images)."""
    return ArenaMatch.objects.filter(pk=match_id, user=user).select_related("champion", "challenger").first()


@dataclass
class ArenaSide:
    """One image of a voted pair, named: which version painted it, in which role, and whether the voter picked it."""

    side: str  # "a" (left) or "b" (right)
    version: ModelVersion
    role: str  # "champion" or "challenger"
    picked: bool


def arena_match_reveal(*, match: ArenaMatch) -> list[ArenaSide]:
    """Who painted which side, left first; empty until the vote is in, so that judging stays blind."""
    if match.status != ArenaMatch.Status.VOTED:
        return []
    roles = [("champion", match.champion), ("challenger", match.challenger)]
    if not match.champion_on_left:
        roles.reverse()
    picked = {ArenaMatch.Choice.LEFT: "a", ArenaMatch.Choice.RIGHT: "b"}.get(match.choice)
    return [
        ArenaSide(side=side, version=version, role=role, picked=side == picked)
        for side, (role, version) in zip(("a", "b"), roles, strict=True)
    ]


def human_judgement_summary() -> dict:
    """What people said about each version, in the form `python -m ml_engine compare --human` reads:
    {"models": {name: {"rating_avg", "rating_count", "folder"}}, "arena": [{"champion", "challenger", ...}]}.
    `folder` is the bundled name or path a version was loaded from, so the compare command can match it."""
    models = {
        v.version_name: {
            "rating_avg": v.rating_avg,
            "rating_count": v.rating_count,
            "source": v.source,
            "folder_name": v.source.rsplit("/", 1)[-1],
        }
        for v in model_version_rated_list()
    }
    arena = [
        {
            "champion": r.champion.version_name,
            "challenger": r.challenger.version_name,
            "votes": r.votes,
            "challenger_wins": r.challenger_wins,
            "champion_wins": r.champion_wins,
            "ties": r.ties,
            "challenger_win_rate": r.win_rate,
            "interval95": list(r.interval),
        }
        for r in arena_results()
    ]
    return {"models": models, "arena": arena}
