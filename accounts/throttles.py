"""Throttles on what costs a password hash (sign-in, the token endpoint, sign-up), per client IP and per username.

They are DRF throttles on the shared cache, so the website's forms use the same counters as the API
(`throttle_refusal` runs them outside DRF). Rates are settings (T2I_SIGNIN_RATE_*, T2I_SIGNUP_RATE).
"""

from rest_framework.throttling import SimpleRateThrottle


class SignInIPThrottle(SimpleRateThrottle):
    scope = "signin-ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignInUsernameThrottle(SimpleRateThrottle):
    """Guesses at one account, from however many addresses."""

    scope = "signin-username"

    def get_cache_key(self, request, view):
        data = getattr(request, "data", None)
        if data is None:  # a plain Django request (the sign-in form)
            data = request.POST
        if not hasattr(data, "get"):  # a JSON body that is not an object: the view answers 400
            return None
        username = str(data.get("username", "")).strip().lower()[:150]
        if not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": username}


class SignUpIPThrottle(SimpleRateThrottle):
    scope = "signup-ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttle_refusal(request, throttles) -> int | None:
    """Seconds to wait when any of `throttles` refuses `request` (a Django request), else None."""
    waits = []
    for throttle_class in throttles:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1)
    return max(waits) if waits else None
