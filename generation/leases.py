"""Leases on running jobs: which worker runs a job and until when, and the fencing that stops one that lost it.

A worker claims a job by writing a lease on its row: an owner token (host, process id and a random part, new
for every claim) and an expiry T2I_JOB_LEASE_S ahead. The step callback renews it with each progress write.
Every write a worker makes to its job is conditioned on its token, so a worker whose lease was taken over
(it stalled, or was presumed dead) changes nothing: its next step raises LeaseLost and it lets the job go.
A lease that expired means its worker is gone: the next delivery of the job, or the reconciler, takes over.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from generation.models import GenerationJob


class LeaseLost(Exception):
    """Another worker holds this job now (or it ended): stop without touching its row."""


def lease_owner_prefix(*, host: str | None = None, pid: int | None = None) -> str:
    return f"{host or socket.gethostname()}:{pid or os.getpid()}:"


def lease_token() -> str:
    """A new owner token for one claim: `host:pid:random`, so a supervisor can find the jobs of a dead process."""
    return lease_owner_prefix() + secrets.token_hex(4)


def lease_expiry(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=settings.T2I_JOB_LEASE_S)


def lease_is_live(job: GenerationJob, now: datetime | None = None) -> bool:
    return job.lease_expires_at is not None and job.lease_expires_at > (now or timezone.now())


def lease_expired_q(now: datetime) -> Q:
    """Running jobs whose worker is presumed gone (rows from before leases have none)."""
    return Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)


def job_lease_renew(*, job_id: int, owner: str) -> bool:
    """Extend the lease if `owner` still holds it; False when another worker took the job over or it ended."""
    held = GenerationJob.objects.filter(pk=job_id, lease_owner=owner, status=GenerationJob.Status.RUNNING)
    return bool(held.update(lease_expires_at=lease_expiry()))


def job_leases_expire_for_process(*, pid: int, host: str | None = None) -> int:
    """A supervisor saw process `pid` die: its jobs' leases end now, so the reconciler requeues them at once."""
    prefix = lease_owner_prefix(host=host, pid=pid)
    running = GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING, lease_owner__startswith=prefix)
    return running.update(lease_expires_at=timezone.now())


def attempts_exhausted(job: GenerationJob) -> bool:
    return job.attempts >= settings.T2I_JOB_MAX_ATTEMPTS


def give_up_reason(job: GenerationJob) -> str:
    """What the job page says when a job's worker stopped on every attempt."""
    return f"gave up after {job.attempts} attempts: the worker running this job stopped before it finished each time"
