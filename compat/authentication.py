"""HTTP basic auth for the A1111 API, as A1111's `--api-auth user:password`: the user's password, or one of their
API keys in the password's place.

A1111 clients send the credentials with every request (a progress poll several times a second), and a password
hash costs a few hundred milliseconds, so a verified pair is remembered in this process (never in a shared cache)
for CREDENTIALS_TTL_S, keyed by an HMAC of the pair and tied to the password hash it was checked against: a new
password, or a deactivated user, ends it at once. A wrong password counts against the sign-in throttles (per IP
and per username), like the sign-in form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.selectors import api_key_authenticate
from accounts.services import api_key_mark_used
from accounts.throttles import SignInIPThrottle, SignInUsernameThrottle

CREDENTIALS_TTL_S = 300
_MAX_REMEMBERED = 1024
_remembered: dict[str, tuple[int, str, float]] = {}  # HMAC of the pair -> (user id, password hash, expiry)
_lock = threading.Lock()


def _pair_key(username: str, password: str) -> str:
    secret = settings.SECRET_KEY.encode()
    return hmac.new(secret, f"{username}\x00{password}".encode(), hashlib.sha256).hexdigest()


def _remembered_user(username: str, password: str):
    key = _pair_key(username, password)
    with _lock:
        entry = _remembered.get(key)
    if entry is None or entry[2] < time.monotonic():
        return None
    user = get_user_model().objects.filter(pk=entry[0], is_active=True).first()
    return user if user is not None and user.password == entry[1] else None


def _remember(username: str, password: str, user) -> None:
    with _lock:
        if len(_remembered) >= _MAX_REMEMBERED:
            _remembered.pop(next(iter(_remembered)))
        _remembered[_pair_key(username, password)] = (user.pk, user.password, time.monotonic() + CREDENTIALS_TTL_S)


def credentials_forget() -> None:
    with _lock:
        _remembered.clear()


class _CredentialsProbe:
    """What the sign-in throttles read off a request: its address and the username tried."""

    def __init__(self, request, username: str):
        self.META, self.headers = request.META, request.headers
        self.POST = self.data = {"username": username}


def _password_refused(request, username: str) -> None:
    probe = _CredentialsProbe(request, username)
    for throttle_class in (SignInIPThrottle, SignInUsernameThrottle):
        throttle = throttle_class()
        if not throttle.allow_request(probe, None):
            raise exceptions.Throttled(wait=throttle.wait())


class BasicCredentialsAuthentication(BaseAuthentication):
    def authenticate(self, request):
        scheme, _, encoded = get_authorization_header(request).decode("latin1").partition(" ")
        if scheme.lower() != "basic":
            return None  # another scheme (an API key as Bearer or Token) may authenticate the request
        try:
            username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed basic credentials.") from None
        if not sep or not username:
            raise exceptions.AuthenticationFailed("Basic credentials are username:password.")
        key = api_key_authenticate(raw_key=password)
        if key is not None and key.user.get_username().lower() == username.lower():
            api_key_mark_used(key=key)
            return key.user, key
        user = _remembered_user(username, password)
        if user is None:
            _password_refused(request, username)  # every guess that reaches the hash is counted
            user = authenticate(request._request, username=username, password=password)
            if user is None or not user.is_active:
                raise exceptions.AuthenticationFailed("Invalid username or password.")
            _remember(username, password, user)
        return user, None

    def authenticate_header(self, request):
        return 'Basic realm="studio"'
