"""Per-user quotas, checked when a job is submitted: active jobs (queued + running), images in any 24 hours,
and bytes of stored images. Limits are settings (T2I_QUOTA_*); staff raise one user's in the admin.

The check runs in the submission's transaction after locking the user's row, so fifty parallel submissions
cannot all read "one slot left" (SQLite, the embedded mode, takes its write lock at BEGIN: the same effect).
Over a limit the API answers 429 with Retry-After and a body naming the limit; the create page shows it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.utils import timezone

from generation.models import GeneratedImage, GenerationJob
from t2i_site.limits import LimitExceeded

DAY = timedelta(hours=24)
_ACTIVE = (GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING)
_COUNTED = (*_ACTIVE, GenerationJob.Status.SUCCEEDED)  # failed and cancelled jobs made no images


class QuotaExceeded(LimitExceeded):
    pass


@dataclass(frozen=True)
class Quotas:
    active_jobs: int
    images_per_day: int
    stored_bytes: int


def quotas_for(user) -> Quotas:
    def pick(override, default):
        return default if override is None else override

    return Quotas(
        active_jobs=pick(user.quota_active_jobs, settings.T2I_QUOTA_ACTIVE_JOBS),
        images_per_day=pick(user.quota_images_per_day, settings.T2I_QUOTA_IMAGES_PER_DAY),
        stored_bytes=pick(user.quota_stored_bytes, settings.T2I_QUOTA_STORED_BYTES),
    )


def quota_check_submission(*, user, num_images: int) -> None:
    """Raise QuotaExceeded if `user` may not submit a job of `num_images` now. Call inside the transaction that
    creates the job: it locks the user's row for the rest of it."""
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    quotas, now = quotas_for(user), timezone.now()
    jobs = GenerationJob.objects.filter(user=user)
    counted = Q(status__in=_COUNTED, created_at__gte=now - DAY)
    used = jobs.aggregate(
        active=Count("pk", filter=Q(status__in=_ACTIVE)), images=Sum("prompt__num_images", filter=counted)
    )

    active = used["active"]
    if active >= quotas.active_jobs:
        raise QuotaExceeded(
            limit="active_jobs",
            allowed=quotas.active_jobs,
            used=active,
            retry_after_s=max(5, settings.T2I_JOB_TIME_LIMIT_S // 10),
            message=f"You have {active} jobs queued or running, the most at once; submit more when one finishes.",
        )
    images = used["images"] or 0
    if images + num_images > quotas.images_per_day:
        oldest = jobs.filter(counted).order_by("created_at").values_list("created_at", flat=True).first() or now
        raise QuotaExceeded(
            limit="images_per_day",
            allowed=quotas.images_per_day,
            used=images,
            retry_after_s=max(1, int((oldest + DAY - now).total_seconds())),
            message=f"That would make {images + num_images} images in 24 hours; the limit is {quotas.images_per_day}.",
        )
    stored = GeneratedImage.objects.filter(user=user).aggregate(n=Sum("byte_size"))["n"] or 0
    if stored >= quotas.stored_bytes:
        raise QuotaExceeded(
            limit="stored_bytes",
            allowed=quotas.stored_bytes,
            used=stored,
            retry_after_s=3600,
            message=f"Your images take {stored / 1e6:.1f} MB, the most you can keep; delete some to make more.",
        )
