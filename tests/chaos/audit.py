"""What the fault suite checks once the faults are over: every job ended (none stuck), each succeeded job has
exactly one image per index with its file in storage, no failed or cancelled job kept images, no file in storage
belongs to no image (orphans), and how long the jobs a fault hit took to end after it."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass
class JobAudit:
    job_id: int
    status: str
    error: str
    attempts: int
    wanted: int  # images asked for
    duplicated: int = 0  # image rows beyond one per index (or on a job that did not succeed)
    missing: int = 0  # indexes with no row, or rows whose file is not in storage
    finished_at: float | None = None

    @property
    def stuck(self) -> bool:
        return self.status not in FINISHED


@dataclass
class Fault:
    kind: str
    at: float  # wall clock, seconds since the epoch
    jobs: list[int]


@dataclass
class FaultLog:
    events: list[Fault] = field(default_factory=list)

    def add(self, kind: str, *, jobs: list[int]) -> Fault:
        fault = Fault(kind, time.time(), list(jobs))
        self.events.append(fault)
        return fault

    @staticmethod
    def parse_time(value) -> float | None:
        """A finished_at from SQLite (text) or PostgreSQL (an aware datetime) as seconds since the epoch."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()

    def longest_recovery(self, audits: dict[int, JobAudit], kinds: tuple[str, ...] | None = None) -> float | None:
        """The longest time from a fault to the end of a job it hit (a stuck job counts as never: None)."""
        longest = 0.0
        for fault in self.events:
            if kinds is not None and fault.kind not in kinds:
                continue
            for job_id in fault.jobs:
                audit = audits.get(job_id)
                if audit is None or audit.finished_at is None:
                    return None
                longest = max(longest, audit.finished_at - fault.at)
        return longest


def audit_jobs(
    *,
    rows: dict[int, dict],
    wanted: dict[int, int],
    images: dict[int, list[tuple[int, str, str]]],
    stored: set[str],
    finished_at: dict[int, float | None],
) -> list[JobAudit]:
    """rows: job id -> {status, error, attempts}; images: job id -> [(index, file, attention file)];
    stored: every image key in storage."""
    audits = []
    for job_id, n in wanted.items():
        row = rows[job_id]
        audit = JobAudit(job_id, row["status"], row["error"] or "", row["attempts"], n, finished_at=finished_at[job_id])
        found = images.get(job_id, [])
        if audit.status == "succeeded":
            per_index = Counter(index for index, _, _ in found)
            audit.duplicated = sum(count - 1 for count in per_index.values()) + sum(
                count for index, count in per_index.items() if index >= n
            )
            audit.missing = sum(1 for index in range(n) if index not in per_index)
            audit.missing += sum(1 for _, name, maps in found for key in (name, maps) if key and key not in stored)
        else:
            audit.duplicated = len(found)
        audits.append(audit)
    return audits


def orphan_files(*, images: dict[int, list[tuple[int, str, str]]], stored: set[str]) -> set[str]:
    referenced = {key for found in images.values() for _, name, maps in found for key in (name, maps) if key}
    return stored - referenced
