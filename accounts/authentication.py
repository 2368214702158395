"""API key authentication for DRF: `Authorization: Token <key>` (the studio's own scheme) or `Bearer <key>` (what
OpenAI-style clients send). Both carry the same per-user API keys."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.selectors import api_key_authenticate
from accounts.services import api_key_mark_used

SCHEMES = ("token", "bearer")


def api_key_from_header(header: str) -> str | None:
    scheme, _, key = header.partition(" ")
    if scheme.lower() not in SCHEMES or not key.strip():
        return None
    return key.strip()


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).decode("latin1")
        raw_key = api_key_from_header(header) if header else None
        if raw_key is None:
            return None  # not ours: another scheme (or none) may authenticate the request
        key = api_key_authenticate(raw_key=raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        api_key_mark_used(key=key)
        return key.user, key

    def authenticate_header(self, request):
        return "Token"  # makes a missing key a 401 with WWW-Authenticate, not a 403
