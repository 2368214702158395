"""The step callback of one pipeline call, which may make images for several jobs (generation.batching).

Per step, for each job of the call, a progress event goes to its Channels groups at once. The row is written at
most every T2I_PROGRESS_WRITE_S (the first step included, the last left out: the results' save follows): one
statement per job renews its lease, records its progress and latest preview, and reads its cancel flag, so the
database sees a few writes a second however short the steps are. A preview (the job's first image as it stands,
a small WebP) is decoded every T2I_PREVIEW_EVERY_S, the first once that much time has passed: a job done sooner
shows its images, not a preview of them. A job found cancelled ends at once while the call goes on for the
others; a job another worker took over is let go; when no job of the call is left, the call stops
(GenerationCancelled or LeaseLost).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings

from generation.events import event_publish, progress_event
from generation.leases import LeaseLost, lease_expiry
from generation.models import GenerationJob
from generation.pngs import preview_data_url
from generation.transient import DATABASE_ERRORS, database_reconnect

logger = logging.getLogger(__name__)


class JobTimeLimitExceeded(Exception):
    pass


@dataclass
class CallMember:
    """A job's part in one call: its images are the call's rows `rows`; `done` of its images came before."""

    job: GenerationJob
    rows: list[int]
    done: int = 0
    stopped: str = ""  # "cancelled" or "lost": the call goes on without it
    preview: str = field(default="", repr=False)  # the latest, for the row (late joiners)
    fresh: bool = False  # a preview the browsers have not had yet

    def step_of(self, step: int, steps: int) -> tuple[int, int]:
        """Progress over the whole job: image i of n at step s counts as i * steps + s of n * steps."""
        return self.done * steps + len(self.rows) * step, self.job.prompt.num_images * steps


class CallProgress:
    def __init__(self, members: list[CallMember], *, owner: str, deadline: float, on_cancelled):
        self.members = members
        self.owner = owner
        self.deadline = deadline
        self.on_cancelled = on_cancelled  # ends a job whose cancel was seen (generation.execution)
        self.started = time.monotonic()
        self.last_write = float("-inf")
        self.last_preview = self.started  # the first preview once T2I_PREVIEW_EVERY_S has passed: none on short work

    @property
    def live(self) -> list[CallMember]:
        return [member for member in self.members if not member.stopped]

    def __call__(self, info) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise JobTimeLimitExceeded
        if now - self.last_preview >= settings.T2I_PREVIEW_EVERY_S:
            self.last_preview = now
            for member in self.live:
                member.preview, member.fresh = preview_data_url(info.preview(member.rows[0])), True
        # the last step needs no write: the results' save follows at once and renews nothing it needs
        if info.step < info.total and now - self.last_write >= settings.T2I_PROGRESS_WRITE_S:
            self.last_write = now
            self._write(info)
        for member in self.live:
            step, total = member.step_of(info.step, info.total)
            eta_s = (now - self.started) / info.step * (info.total - info.step) if info.step else None
            preview, member.fresh = (member.preview if member.fresh else ""), False  # sent once: the page keeps it
            event = progress_event(member.job, step=step, total=total, eta_s=eta_s, preview=preview)
            event_publish(job=member.job, event=event)
        if not self.live:
            raise self._why_stopped()

    def _write(self, info) -> None:
        for member in self.live:
            step, total = member.step_of(info.step, info.total)
            try:
                # one statement renews the lease, records progress and reads the cancel flag
                updated = GenerationJob.objects.filter(
                    pk=member.job.pk,
                    lease_owner=self.owner,
                    status=GenerationJob.Status.RUNNING,
                    cancel_requested=False,
                ).update(
                    progress=step / total,
                    step=step,
                    total_steps=total,
                    preview=member.preview,
                    lease_expires_at=lease_expiry(),
                )
            except DATABASE_ERRORS:
                # the database is away: keep denoising; the lease is renewed (or found lost) at the next write
                # that reaches it, and the save retries until it is back
                logger.warning("job %s: progress of step %s not recorded (database unreachable)", member.job.pk, step)
                database_reconnect()
                return
            if not updated:
                self._stop(member)

    def _stop(self, member: CallMember) -> None:
        row = GenerationJob.objects.filter(pk=member.job.pk).values("status", "lease_owner").first()
        if row and row["status"] == GenerationJob.Status.RUNNING and row["lease_owner"] == self.owner:
            member.stopped = "cancelled"
            self.on_cancelled(member.job)
        else:
            member.stopped = "lost"
            logger.warning("job %s was taken over; this worker lets it go", member.job.pk)

    def _why_stopped(self) -> Exception:
        from ml_engine.pipelines import GenerationCancelled

        if any(member.stopped == "cancelled" for member in self.members):
            return GenerationCancelled()
        return LeaseLost(f"jobs {[m.job.pk for m in self.members]} were taken over")
