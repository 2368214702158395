"""WebSocket authentication: the session cookie, or an API key (`Authorization: Token|Bearer <key>`) on the upgrade.

Browsers always send Origin, so a cross-site page cannot ride a user's session cookie: an Origin
outside ALLOWED_HOSTS is refused. API clients that send no Origin authenticate with a token.
"""

from urllib.parse import urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from accounts.authentication import api_key_from_header
from accounts.selectors import api_key_authenticate


def _user_for_api_key(raw_key: str):
    key = api_key_authenticate(raw_key=raw_key)
    return key.user if key is not None else AnonymousUser()


class TokenHeaderAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers", [])).get(b"authorization")
        raw_key = api_key_from_header(header.decode("latin1")) if header else None
        if raw_key is not None:
            scope = dict(scope, user=await database_sync_to_async(_user_for_api_key)(raw_key))
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin):
        if parsed_origin is None:  # not a browser: nothing to forge, the token header must authenticate
            return True
        return self.validate_origin(parsed_origin)


def _allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts + [urlparse(origin).hostname or origin for origin in settings.CSRF_TRUSTED_ORIGINS]


def WebSocketAuthStack(inner):  # noqa: N802 - a middleware factory, named like Channels' own
    return BrowserOriginValidator(AuthMiddlewareStack(TokenHeaderAuthMiddleware(inner)), _allowed_origins())
