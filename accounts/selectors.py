"""Account reads."""

from rest_framework.authtoken.models import Token

from accounts.models import User


def user_for_token(*, key: str) -> User | None:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user
