"""Evaluating a model version (run by the `modelops.tasks.model_version_evaluate` Celery task on a worker).

Alignment per category (GenEval-style rules, ml_engine.evaluation) on fresh canonical prompts; the
run goes to MLflow (experiment "evaluation"), the scores onto the registry version's tags and into the row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modelops.models import ModelChange, ModelVersion
from modelops.runtime import pipeline_load, registry_client


def model_version_evaluate(*, version: ModelVersion, actor=None) -> ModelVersion:
    """Takes seconds to minutes (it generates images): call it from a task, never from a request."""
    from ml_engine.evaluation.tracked import evaluate_and_track

    pipe = pipeline_load(version.source)
    registry = registry_client(version.registry_name or None)
    result = evaluate_and_track(
        pipe,
        registry=registry,
        version=version.registry_version,  # None: logged as a run, no registry tags to write
        per_category=settings.T2I_EVAL_PER_CATEGORY,
        seeds=settings.T2I_EVAL_SEEDS,
        steps=settings.T2I_EVAL_STEPS,
        tensorboard_dir=str(settings.T2I_TENSORBOARD_DIR / f"eval-{version.version_name}"),
    )
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        version.alignment = result.scores
        version.accuracy = result.scores.get("overall")
        version.evaluated_at = timezone.now()
        version.save(update_fields=["alignment", "accuracy", "evaluated_at"])
        ModelChange.objects.create(
            action=ModelChange.Action.EVALUATE,
            actor=actor,
            to_version=version,
            reason=f"{result.images} images, overall {result.scores.get('overall', 0.0):.3f}",
            gate={"scores": result.scores, "run_id": result.run_id},
        )
    return version


def model_version_evaluation_request(*, version: ModelVersion) -> None:
    """Queue an evaluation on the GPU workers once the caller's transaction commits."""
    from modelops.tasks import model_version_evaluate_task

    transaction.on_commit(lambda: model_version_evaluate_task.delay(version.pk))
