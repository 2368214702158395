"""Account writes: creating users (role admin implies Django staff access), API keys and their revocation."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.keys import api_key_digest, api_key_generate
from accounts.models import ApiKey, User


@transaction.atomic
def user_create(
    *, username: str, password: str, email: str | None = None, name: str = "", role: str = User.Role.USER
) -> User:
    if role not in User.Role.values:
        raise ValueError(f"unknown role {role!r}")
    user = User(username=username, email=email or None, name=name, role=role, is_staff=role == User.Role.ADMIN)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def user_ensure_demo(*, username: str, password: str) -> tuple[User, bool]:
    """The embedded demo account: created once, its password reset to the known one on every start."""
    user = User.objects.filter(username=username).first()
    if user is None:
        return user_create(username=username, password=password, name="Demo creator"), True
    if not user.check_password(password):  # a real change only: changing a password revokes the user's API keys
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, False


@transaction.atomic
def api_key_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key for `user`; returns the row and the key itself, which is never stored and cannot be shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("an API key's expiry must be in the future")
    raw_key, prefix = api_key_generate()
    key = ApiKey(user=user, name=name.strip() or "API key", prefix=prefix, digest=api_key_digest(raw_key))
    key.expires_at = expires_at
    key.full_clean()
    key.save()
    return key, raw_key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_keys_revoke_all(*, user: User) -> int:
    """Every live key of the user: what a password change does, so a leaked key dies with the old password."""
    return ApiKey.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())


def api_key_mark_used(*, key: ApiKey, every_s: int = 60) -> None:
    """Record when a key was last used, at most once a minute: a write per request would cost more than it tells."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= every_s:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
