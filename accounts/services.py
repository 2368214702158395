"""Account writes: creating users (role admin implies Django staff access) and API tokens."""

from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import User


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
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, False


def token_get_or_create(*, user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token
