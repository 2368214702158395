"""Strict environment parsing: a bad value stops the process with a clear message instead of being guessed at.

DEBUG = env_bool("DJANGO_DEBUG", default=False)   # "yes" -> True, "maybe" -> ImproperlyConfigured
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MISSING = object()


def _raw(name: str, default):
    value = os.environ.get(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"environment variable {name} is required")
        return None
    return value


def env_str(name: str, default=_MISSING) -> str | None:
    value = _raw(name, default)
    return default if value is None else value


def env_choice(name: str, choices: tuple[str, ...], default=_MISSING) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def env_bool(name: str, default=_MISSING) -> bool:
    value = _raw(name, default)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use one of {sorted(_TRUE | _FALSE)})")


def env_int(name: str, default=_MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default=_MISSING) -> list[str]:
    value = _raw(name, default)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_mapping(name: str, default=_MISSING) -> dict[str, str]:
    """`name1=value1,name2=value2` -> dict; a malformed entry is an error, not skipped."""
    value = _raw(name, default)
    if value is None:
        return dict(default)
    mapping = {}
    for entry in value.split(","):
        key, sep, item = entry.partition("=")
        if not sep or not key.strip() or not item.strip():
            raise ImproperlyConfigured(f"{name}: entry {entry!r} is not of the form name=value")
        mapping[key.strip()] = item.strip()
    return mapping


def env_path(name: str, default=_MISSING) -> Path:
    value = _raw(name, default)
    return Path(default if value is None else value).expanduser().resolve()


def env_float(name: str, default=_MISSING, *, minimum: float | None = None) -> float:
    value = _raw(name, default)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number
