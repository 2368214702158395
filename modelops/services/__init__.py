"""modelops writes: versions and the registry mirror, promotion and rollback, evaluation, the A/B arena."""

from modelops.services.arena import arena_match_create, arena_match_render, arena_vote_record
from modelops.services.evaluation import model_version_evaluate, model_version_evaluation_request
from modelops.services.promotion import (
    GateResult,
    PromotionRefused,
    model_version_promote,
    model_version_rollback,
    promotion_gate,
)
from modelops.services.versions import (
    DEMO_VERSION_NAME,
    model_version_bootstrap,
    model_version_make_current,
    model_version_register,
    model_version_register_folder,
    model_version_sync,
)

__all__ = [
    "DEMO_VERSION_NAME",
    "GateResult",
    "PromotionRefused",
    "arena_match_create",
    "arena_match_render",
    "arena_vote_record",
    "model_version_bootstrap",
    "model_version_evaluate",
    "model_version_evaluation_request",
    "model_version_make_current",
    "model_version_promote",
    "model_version_register",
    "model_version_register_folder",
    "model_version_rollback",
    "model_version_sync",
    "promotion_gate",
]
