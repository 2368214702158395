"""Fair share: workers take queued jobs round-robin across users, not first-in first-out.

One user's backlog of twenty jobs delays another user's first job by at most the job already running: whenever a
worker is free, the next job is the oldest queued job of the user who was served longest ago (never served
first). A run message still names a job, but only as a turn to run one: a worker that receives job X's message
while another user's job Y is due runs Y, and sends X's message again, so queued jobs and messages stay one to
one (and the reconciler's view of "a queued job without a message" stays true). InvokeAI's session queue does the
same per user ("round robin"); Celery alone is FIFO.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Max, Min

from generation.models import GenerationJob

_Q = GenerationJob.Status.QUEUED


def _waiting():
    return GenerationJob.objects.filter(status=_Q, cancel_requested=False)


def _rotation(waiting: dict | None = None) -> list[int]:
    """User ids with queued jobs, in the order they are due: least recently served first, then oldest job.
    `waiting`: {user id: their oldest queued job's creation}, when the caller has read it already."""
    if waiting is None:
        waiting = dict(_waiting().values("user_id").annotate(oldest=Min("created_at")).values_list("user_id", "oldest"))
    served = dict(
        GenerationJob.objects.filter(user_id__in=waiting, started_at__isnull=False)
        .values("user_id")
        .annotate(last=Max("started_at"))
        .values_list("user_id", "last")
    )
    return sorted(waiting, key=lambda user_id: (served.get(user_id) is not None, served.get(user_id), waiting[user_id]))


def job_due_ids(*, limit: int = 4) -> list[int]:
    """The queued jobs due next, best first: each due user's oldest job (several, for a worker that loses a race)."""
    due = []
    for user_id in _rotation()[:limit]:
        job_id = _waiting().filter(user_id=user_id).order_by("created_at", "pk").values_list("pk", flat=True).first()
        if job_id is not None:
            due.append(job_id)
    return due


def jobs_in_turn_order(jobs, *, limit: int = 64) -> list[GenerationJob]:
    """Queued `jobs` in the order the round robin runs them: each user's oldest in rotation order, then each user's
    second, and so on (of each user's oldest `limit`)."""
    by_user = defaultdict(list)
    for job in jobs.filter(status=_Q, cancel_requested=False).order_by("created_at", "pk")[: limit * 4]:
        if len(by_user[job.user_id]) < limit:
            by_user[job.user_id].append(job)
    rotation = [user_id for user_id in _rotation() if user_id in by_user]
    turns = max((len(queue) for queue in by_user.values()), default=0)
    return [by_user[user_id][turn] for turn in range(turns) for user_id in rotation if turn < len(by_user[user_id])]


def job_queue_position(*, job: GenerationJob) -> int | None:
    """How many queued jobs start before this one under the round robin (0: it is next); None unless queued.

    With the users in rotation order and this job the k-th of its user's queue, a user due before this one
    gets k + 1 turns first, a user due after it k turns, each capped by how many jobs they have waiting."""
    if job.status != _Q or job.cancel_requested:
        return None
    waiting = list(_waiting().values_list("user_id", "created_at"))  # one read: the rotation and the counts agree
    oldest: dict[int, object] = {}
    for user_id, created_at in waiting:
        oldest[user_id] = min(created_at, oldest.get(user_id, created_at))
    rotation = _rotation(oldest)
    if job.user_id not in rotation:
        return None
    queued = Counter(user_id for user_id, _ in waiting)
    mine = sum(1 for user_id, created_at in waiting if user_id == job.user_id and created_at < job.created_at)
    me = rotation.index(job.user_id)
    ahead = mine
    for place, user_id in enumerate(rotation):
        if user_id != job.user_id:
            ahead += min(queued[user_id], mine + (1 if place < me else 0))
    return ahead
