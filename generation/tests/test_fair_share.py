"""Fair share: workers take jobs round-robin across users, so one user's backlog delays another user's first job
by at most the job already running; the queue position says how many start first."""

import pytest

from generation.fair_share import job_due_ids, job_queue_position
from generation.models import GenerationJob
from generation.services import generation_job_submit
from generation.tests.factories import GenerationJobFactory


def test_the_user_served_longest_ago_is_due_first(alice, bob, model_version):
    GenerationJobFactory(user=alice, status="running")  # alice is being served
    backlog = [GenerationJobFactory(user=alice) for _ in range(5)]
    bobs = GenerationJobFactory(user=bob)
    from django.utils import timezone

    GenerationJob.objects.filter(status="running").update(started_at=timezone.now())
    assert job_due_ids()[:2] == [bobs.pk, backlog[0].pk]


def test_queue_positions_follow_the_round_robin(alice, bob, staff, model_version):
    alices = [GenerationJobFactory(user=alice) for _ in range(4)]
    bobs = [GenerationJobFactory(user=bob) for _ in range(2)]
    # nobody served yet: alice's oldest job is oldest, so the turns go alice, bob, alice, bob, alice, alice
    positions = {job.pk: job_queue_position(job=job) for job in alices + bobs}
    assert [positions[j.pk] for j in alices] == [0, 2, 4, 5]
    assert [positions[j.pk] for j in bobs] == [1, 3]
    stellas = GenerationJobFactory(user=staff)
    assert job_queue_position(job=stellas) == 2  # a newcomer is third: after alice's and bob's turns
    running = GenerationJobFactory(user=alice, status="running")
    assert job_queue_position(job=running) is None


def test_the_api_and_the_job_page_show_the_queue_position(api_as, client_as, alice, bob, model_version):
    GenerationJobFactory(user=bob)
    job = GenerationJobFactory(user=alice)
    assert api_as(alice).get(f"/api/jobs/{job.pk}/").data["queue_position"] == 1
    assert "1 job ahead of yours" in client_as(alice).get(f"/jobs/{job.pk}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_second_users_job_starts_before_the_first_users_backlog_drains(worker, held_enqueue, alice, bob, wait):
    backlog = [generation_job_submit(user=alice, text=f"a red circle {n}", steps=2) for n in range(6)]
    late = generation_job_submit(user=bob, text="a blue square", steps=2)
    held_enqueue.release()  # the messages reach the worker in submission order: alice's six, then bob's

    ids = [job.pk for job in backlog] + [late.pk]
    wait(lambda: all(j.is_finished for j in GenerationJob.objects.filter(pk__in=ids)), timeout=120)
    jobs = list(GenerationJob.objects.filter(pk__in=ids).order_by("started_at"))
    assert all(job.status == GenerationJob.Status.SUCCEEDED for job in jobs)  # and each ran once
    assert [job.pk for job in jobs].index(late.pk) <= 1  # at most the job already running went first
