"""Promotion and rollback of the `champion` alias, behind an evaluation gate, with an audit trail.

The gate compares the candidate's alignment per category with the current champion's: any category
worse by more than T2I_PROMOTION_MARGIN fails it (so does a candidate that was never evaluated, or one
missing a category the champion has). A failed gate refuses the promotion unless it is forced with a
written reason. Every promotion, refusal and rollback is a ModelChange row: who, when, from, to, why,
and the gate's result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from modelops.models import ModelChange, ModelVersion
from modelops.runtime import registry_client
from modelops.services.versions import CHALLENGER, CHAMPION, model_version_make_current, model_version_sync


@dataclass
class GateResult:
    passed: bool
    margin: float
    champion: str | None  # the version compared against
    failing: dict[str, dict] = field(default_factory=dict)  # category -> {"candidate", "champion", "drop"}
    compared: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class PromotionRefused(Exception):
    def __init__(self, gate: GateResult, change: ModelChange):
        super().__init__(f"the evaluation gate failed on {', '.join(gate.failing)}")
        self.gate, self.change = gate, change


def promotion_gate(*, candidate: ModelVersion, champion: ModelVersion | None, margin: float) -> GateResult:
    if champion is None or not champion.alignment:
        return GateResult(passed=True, margin=margin, champion=champion and champion.version_name)
    if not candidate.alignment:
        failing = {"evaluation": {"candidate": None, "champion": None, "drop": None, "note": "never evaluated"}}
        return GateResult(passed=False, margin=margin, champion=champion.version_name, failing=failing)
    failing, compared = {}, []
    for category, best in champion.alignment.items():
        if category == "overall":
            continue  # the mean of the others: judged through them
        compared.append(category)
        score = candidate.alignment.get(category)
        if score is None or best - score > margin + 1e-9:
            drop = None if score is None else round(best - score, 6)
            failing[category] = {"candidate": score, "champion": best, "drop": drop}
    return GateResult(
        passed=not failing, margin=margin, champion=champion.version_name, failing=failing, compared=compared
    )


def _champion_row() -> ModelVersion | None:
    return ModelVersion.objects.select_for_update().filter(is_current=True).first()


def model_version_promote(*, version: ModelVersion, actor, reason: str = "", force: bool = False) -> ModelChange:
    """Point `champion` at `version` if the gate passes (or `force` with a reason); raises PromotionRefused."""
    reason = reason.strip()
    if force and not reason:
        raise ValidationError({"reason": "a forced promotion needs a written reason"})
    if not version.is_registered:
        raise ValidationError({"version": f"{version} is not in the model registry"})
    with transaction.atomic():
        champion = _champion_row()
        if champion is not None and champion.pk == version.pk:
            raise ValidationError({"version": f"{version} is already the champion"})
        gate = promotion_gate(candidate=version, champion=champion, margin=settings.T2I_PROMOTION_MARGIN)
        if not gate.passed and not force:
            change = ModelChange.objects.create(
                action=ModelChange.Action.REFUSED,
                actor=actor,
                from_version=champion,
                to_version=version,
                reason=reason,
                gate=gate.as_dict(),
            )
        else:
            change = _champion_move(
                action=ModelChange.Action.PROMOTE,
                actor=actor,
                old=champion,
                new=version,
                reason=reason,
                forced=not gate.passed,
                gate=gate.as_dict(),
            )
    if change.action == ModelChange.Action.REFUSED:
        raise PromotionRefused(gate, change)  # after the commit: the refusal stays in the audit trail
    return change


def _champion_move(*, action, actor, old: ModelVersion | None, new: ModelVersion, reason: str, forced, gate):
    """Inside the caller's transaction: move the registry alias last, so a registry error rolls the rows back."""
    model_version_make_current(version=new)
    change = ModelChange.objects.create(
        action=action, actor=actor, from_version=old, to_version=new, reason=reason, forced=forced, gate=gate
    )
    registry = registry_client(new.registry_name)
    registry.alias_set(CHAMPION, new.registry_version)
    challenger = registry.alias_version(CHALLENGER)
    if challenger is not None and challenger.version == new.registry_version:
        registry.alias_delete(CHALLENGER)  # a champion is no longer anyone's challenger
    model_version_sync()
    return change


def model_version_rollback(*, actor, reason: str = "") -> ModelChange:
    """Point `champion` back at the version it replaced (the `from` of the change that made it champion)."""
    with transaction.atomic():
        champion = _champion_row()
        if champion is None:
            raise ValidationError({"version": "there is no champion to roll back"})
        last = (
            ModelChange.objects.filter(
                to_version=champion,
                action__in=[ModelChange.Action.PROMOTE, ModelChange.Action.BOOTSTRAP],
                from_version__isnull=False,
            )
            .select_related("from_version")
            .first()
        )
        if last is None:
            raise ValidationError({"version": f"{champion} has no previous champion to return to"})
        return _champion_move(
            action=ModelChange.Action.ROLLBACK,
            actor=actor,
            old=champion,
            new=last.from_version,
            reason=reason.strip(),
            forced=False,
            gate={},
        )
