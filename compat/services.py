"""Writes of the client-compatible APIs: an A1111 client's default checkpoint. Jobs are submitted and cancelled
through the generation services like any other."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from compat.models import ClientSettings
from compat.selectors import checkpoint_title, model_version_by_client_name, served_models


@transaction.atomic
def client_checkpoint_set(*, user, name: str) -> ClientSettings:
    version = model_version_by_client_name(name)
    if version is None:
        known = ", ".join(checkpoint_title(v) for v in served_models())
        raise ValidationError({"sd_model_checkpoint": f"unknown checkpoint {name!r}; the studio serves {known}"})
    chosen, _ = ClientSettings.objects.update_or_create(user=user, defaults={"checkpoint": version})
    return chosen
