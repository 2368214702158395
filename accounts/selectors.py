"""Account reads: a user's API keys, and the user an API key authenticates."""

from django.db.models import QuerySet
from django.utils import timezone

from accounts.keys import api_key_digest
from accounts.models import ApiKey


def api_key_list_for_user(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The live key (not revoked, not expired, its user active) that `raw_key` is, or None."""
    key = ApiKey.objects.select_related("user").filter(digest=api_key_digest(raw_key), revoked_at=None).first()
    if key is None or not key.user.is_active:
        return None
    if key.expires_at is not None and key.expires_at <= timezone.now():
        return None
    return key
