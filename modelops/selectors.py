"""Model version reads."""

from django.db.models import QuerySet

from modelops.models import ModelVersion


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all()


def model_version_current() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_current=True).first()


def model_version_get(*, version_name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(version_name=version_name).first()
