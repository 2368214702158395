"""What the fault suite checks once the faults are over: every job ended (none stuck), each succeeded job has
exactly one image per index with its file in storage, no failed or cancelled job kept images, no file in storage
belongs to no image (orphans), and how long the jobs a fault hit took to recover, from the moment the fault was
over (the kill, the server back): until each was handled (queued again, its message sent again, or it made
progress: claimed again, a further step recorded, or ended), and until each made progress.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

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

    def recoveries(self, watch: ProgressWatch, *, progress_only: bool = False) -> list[float | None]:
        """Per fault, the longest recovery of a job it hit (None: one never recovered)."""
        result = []
        for fault in self.events:
            times = [watch.recovered_at(job_id, after=fault.at, progress_only=progress_only) for job_id in fault.jobs]
            result.append(None if None in times else max((t - fault.at for t in times), default=0.0))
        return result

    def longest_recovery(self, watch: ProgressWatch, *, progress_only: bool = False) -> float | None:
        recoveries = self.recoveries(watch, progress_only=progress_only)
        return None if None in recoveries else max(recoveries, default=0.0)


class ProgressWatch(threading.Thread):
    """Samples the jobs' (status, step, attempts, enqueued_at) every 0.1 s: `rows(ids)` -> {id: {those keys}}."""

    def __init__(self, rows: Callable[[list[int]], dict[int, dict]]):
        super().__init__(daemon=True)
        self.rows = rows
        self.ids: list[int] = []
        self.samples: dict[int, list[tuple[float, str, int, int, object]]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            now = time.time()
            try:
                rows = self.rows(list(self.ids))
            except Exception:  # the database is restarting: the next sample sees it again
                rows = {}
            for job_id, row in rows.items():
                sample = (now, row["status"], row["step"], row["attempts"], row["enqueued_at"])
                self.samples.setdefault(job_id, []).append(sample)
            self.stopping.wait(0.1)

    def recovered_at(self, job_id: int, *, after: float, progress_only: bool = False) -> float | None:
        """When the job was first handled after `after` (with progress_only: first made progress), judged against
        its first state sampled after it (one from before could miss the last steps a killed worker recorded)."""
        samples = [sample for sample in self.samples.get(job_id, []) if sample[0] >= after]
        if not samples:
            return None
        at, status, step, attempts, enqueued_at = samples[0]
        if status in FINISHED:
            return at
        for at, now_status, now_step, now_attempts, now_enqueued_at in samples[1:]:
            if now_status in FINISHED or now_attempts > attempts or (now_status == "running" and now_step > step):
                return at
            if not progress_only and (now_status != status or now_enqueued_at != enqueued_at):
                return at  # queued again, or its message sent again
        return None


def audit_jobs(
    *,
    rows: dict[int, dict],
    wanted: dict[int, int],
    images: dict[int, list[tuple[int, str, str]]],
    stored: set[str],
) -> list[JobAudit]:
    """rows: job id -> {status, error, attempts}; images: job id -> [(index, file, attention file)];
    stored: every image key in storage."""
    audits = []
    for job_id, n in wanted.items():
        row = rows[job_id]
        audit = JobAudit(job_id, row["status"], row["error"] or "", row["attempts"], n)
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
