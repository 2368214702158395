"""Transient failures of the database or the image storage, told apart from a job's own failures, and retried.

A PostgreSQL restart or an S3 outage is not the job's fault: the worker backs off, reconnects and tries
again for up to T2I_TRANSIENT_RETRY_S, keeping its lease, instead of marking the job failed. A model that
cannot load or a bad input is not transient and fails the job at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)
T = TypeVar("T")
DATABASE_ERRORS = (OperationalError, InterfaceError)


class TransientOutage(Exception):
    """The database or storage stayed unreachable for longer than T2I_TRANSIENT_RETRY_S."""


def _storage_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # no S3 support installed: only the filesystem's errors exist
        return (OSError,)
    return (OSError, BotoCoreError, ClientError)


def is_transient(exc: BaseException, *, storage: bool = False) -> bool:
    """A database error always is; a storage error (OSError, botocore's) only where storage is being written,
    so that a model folder that cannot be read still fails its job at once."""
    if isinstance(exc, DATABASE_ERRORS):
        return True
    if not storage or not isinstance(exc, _storage_errors()) or isinstance(exc, FileNotFoundError | PermissionError):
        return False
    response = getattr(exc, "response", None)
    if response is not None:  # an S3 answer: only the server's own trouble (5xx, throttling) is worth a retry
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or response.get("Error", {}).get("Code") in ("SlowDown", "Throttling", "RequestTimeout")
    return True


def database_reconnect() -> None:
    """Drop connections that a failure left broken; the next query opens a fresh one."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def with_retries(
    action: Callable[[], T], *, what: str, storage: bool = False, between: Callable[[], None] | None = None
) -> T:
    """Run `action`, retrying it with backoff on transient errors; `between` runs before each retry (it may
    raise to stop, e.g. when the job's lease was lost meanwhile)."""
    deadline = time.monotonic() + settings.T2I_TRANSIENT_RETRY_S
    delay = 0.25
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc, storage=storage):
                raise
            if time.monotonic() + delay > deadline:
                raise TransientOutage(f"{type(exc).__name__}: {exc}") from exc
            logger.warning("%s: transient %s (%s); retrying in %.2f s", what, type(exc).__name__, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            database_reconnect()
            if between is not None:
                try:
                    between()
                except Exception as between_exc:
                    if not is_transient(between_exc):
                        raise
