"""Jobs that share a pipeline call, and the layout that makes each image reproducible.

A worker's turn runs the job due under fair share and, in the same call, queued jobs that ask for the same model
version, size, steps, guidance, sampler and negative prompt, taken in fair-share order, up to T2I_BATCH_MAX_IMAGES
images a call. The model draws a batch of eight in far less than eight times one image's time, so a queue of small jobs
empties several times sooner; every job keeps its own seeds, progress, preview, cancel and result.

Reproducible to the bit: CPU kernels round a little differently per batch size (the Shapes diffusion model's
images differ by up to 8 levels a pixel between alone and in a batch of two), but a row's result does not depend
on what the call's other rows hold. So each image records its call's layout (`batch_rows`, `batch_row`), and a
re-run of it runs in that layout, alone, the other rows filled with its own prompt under other seeds
(generation/tests/test_batching.py checks the pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from generation.fair_share import jobs_in_turn_order
from generation.models import GenerationJob
from generation.progress import CallMember


@dataclass
class CallPlan:
    """One pipeline call: a prompt and seed per row; which rows are whose images (fillers belong to nobody)."""

    members: list[CallMember]
    prompts: list[str]
    seeds: list[int]
    images: dict[int, tuple[CallMember, int]]  # row -> (member, the image's index within its job)

    @property
    def rows(self) -> int:
        return len(self.prompts)


def batch_room() -> int:
    return max(1, settings.T2I_BATCH_MAX_IMAGES)


def batch_mates(leader: GenerationJob) -> list[GenerationJob]:
    """Queued jobs that can share the leader's call (same model version and sampling settings), in fair-share
    order, as many whole jobs as fit in the call beside the leader's images."""
    prompt = leader.prompt
    room = batch_room() - prompt.num_images
    if room <= 0 or leader.layout_rows:
        return []
    same_call = GenerationJob.objects.filter(
        model_version_id=leader.model_version_id,
        layout_rows=0,
        prompt__width=prompt.width,
        prompt__height=prompt.height,
        prompt__steps=prompt.steps,
        prompt__guidance=prompt.guidance,
        prompt__negative_prompt=prompt.negative_prompt,
        prompt__sampler=prompt.sampler,
        prompt__num_images__lte=room,
    ).exclude(pk=leader.pk)
    if not leader.follows_champion:  # a job that follows the champion might be due to move to a new one
        same_call = same_call.filter(follows_champion=False)
    same_call = same_call.filter(status=GenerationJob.Status.QUEUED, cancel_requested=False)
    if not same_call.exists():  # the common case on a quiet studio: one cheap query, no rotation to work out
        return []
    mates = []
    for job in jobs_in_turn_order(same_call.select_related("prompt"), limit=room):
        if job.prompt.num_images <= room:
            mates.append(job)
            room -= job.prompt.num_images
    return mates


def call_plans(jobs: list[GenerationJob]) -> list[CallPlan]:
    """The calls that make `jobs`' images: one for a batch that fits, several for a job larger than a call; a
    re-run's call in its original layout."""
    leader = jobs[0]
    if leader.layout_rows > 1:
        return [_layout_plan(leader)]
    slots = [(job, index) for job in jobs for index in range(job.prompt.num_images)]
    room, plans, done = batch_room(), [], {}
    for start in range(0, len(slots), room):
        chunk = slots[start : start + room]
        members: dict[int, CallMember] = {}
        images = {}
        for row, (job, index) in enumerate(chunk):
            if job.pk not in members:
                members[job.pk] = CallMember(job=job, rows=[], done=done.get(job.pk, 0))
            members[job.pk].rows.append(row)
            images[row] = (members[job.pk], index)
        for member in members.values():
            done[member.job.pk] = member.done + len(member.rows)
        prompts = [job.prompt.text_content for job, _ in chunk]
        seeds = [job.prompt.seed + index for job, index in chunk]
        plans.append(CallPlan(list(members.values()), prompts, seeds, images))
    return plans


def _layout_plan(job: GenerationJob) -> CallPlan:
    """A re-run in the layout its image was made in: its prompt and seed at its row, fillers elsewhere."""
    prompt, rows, row = job.prompt, job.layout_rows, min(job.layout_row, job.layout_rows - 1)
    member = CallMember(job=job, rows=[row])
    seeds = [(prompt.seed + 1 + k) % 2**63 for k in range(rows)]  # fillers: other seeds, thrown away
    seeds[row] = prompt.seed
    return CallPlan([member], [prompt.text_content] * rows, seeds, {row: (member, 0)})
