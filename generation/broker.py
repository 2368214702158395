"""Which jobs have a run message in the broker, so the reconciler resends only the messages that are gone.

Redis (kombu's layout): a waiting message is in the queue's list (one per priority step); one that a worker
took and has not acked is in the `unacked` hash, its delivery time in `unacked_index`. An unacked message
of a job that is still queued counts only while fresh: a live worker claims its job within milliseconds,
so an old one belongs to a worker that died before claiming, and Redis would hold it back until its
visibility timeout. The filesystem broker (the embedded mode) keeps one file per waiting message; a
worker deletes it as it takes it. Other brokers cannot be inspected: the caller gets None.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)
RUN_TASK = "generation.tasks.generation_job_run"
_REDIS_PRIORITY_SEP = "\x06\x16"  # kombu.transport.redis.Channel.sep
_REDIS_PRIORITY_STEPS = (0, 3, 6, 9)


def _job_id(message: dict) -> int | None:
    """The job id a Celery (protocol 2) run message carries, or None for any other message."""
    try:
        if message.get("headers", {}).get("task") != RUN_TASK:
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return int(args[0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _ids(messages: Iterable[dict]) -> set[int]:
    return {job_id for job_id in map(_job_id, messages) if job_id is not None}


def _redis(url: str, queue: str, fresh_s: float) -> set[int]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = [queue if step == 0 else f"{queue}{_REDIS_PRIORITY_SEP}{step}" for step in _REDIS_PRIORITY_STEPS]
        waiting = [json.loads(raw) for key in keys for raw in client.lrange(key, 0, -1)]
        tags = client.zrangebyscore("unacked_index", time.time() - fresh_s, "+inf")
        unacked = [json.loads(raw)[0] for raw in client.hmget("unacked", tags) if raw] if tags else []
    finally:
        client.close()
    return _ids(waiting) | _ids(unacked)


def _filesystem(folder: Path, queue: str) -> set[int]:
    messages = []
    for name in os.listdir(folder):
        if name.partition(".")[2] != f"{queue}.msg":
            continue
        try:
            messages.append(json.loads((folder / name).read_bytes()))
        except (OSError, ValueError):  # taken by a worker meanwhile, or half written: not ours to judge
            continue
    return _ids(messages)


def broker_waiting_job_ids(*, queue: str | None = None, fresh_s: float | None = None) -> set[int] | None:
    """Ids of jobs whose run message is waiting in `queue` (default T2I_GPU_QUEUE) or was taken less than
    `fresh_s` (default T2I_RECONCILE_QUEUED_AFTER_S) ago; None when the broker cannot be inspected."""
    queue = queue or settings.T2I_GPU_QUEUE
    fresh_s = settings.T2I_RECONCILE_QUEUED_AFTER_S if fresh_s is None else fresh_s
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _redis(url, queue, fresh_s)
    if url.startswith("filesystem://"):
        return _filesystem(Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]), queue)
    return None
