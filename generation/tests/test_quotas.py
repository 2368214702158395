"""Per-user quotas at submission: active jobs, images in 24 hours, stored bytes; 429 with Retry-After and the
limit named; enforced under concurrency; raised per user by staff."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from generation.models import GenerationJob
from generation.quotas import QuotaExceeded
from generation.services import generation_job_submit
from generation.tests.factories import GeneratedImageFactory, SucceededJobFactory


def test_sixty_rapid_submissions_get_429s_past_the_active_jobs_quota(api_as, alice, model_version, settings):
    settings.T2I_QUOTA_ACTIVE_JOBS = 10
    client = api_as(alice)
    responses = [client.post("/api/jobs/", {"prompt": f"a red circle {n}", "steps": 1}) for n in range(60)]

    statuses = [r.status_code for r in responses]
    assert statuses[:10] == [201] * 10 and statuses[10:] == [429] * 50
    refused = responses[-1]
    assert refused.data["limit"] == "active_jobs" and refused.data["allowed"] == 10 and refused.data["used"] == 10
    assert int(refused["Retry-After"]) > 0
    assert GenerationJob.objects.filter(user=alice).count() == 10


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_submissions_never_pass_the_quota(alice, model_version, settings, held_enqueue):
    """Each submission locks its user's row before counting: no two read the same free slot. (Held: the queued
    jobs are counted, not run.)"""
    settings.T2I_QUOTA_ACTIVE_JOBS = 5

    def submit(n: int) -> str:
        try:
            generation_job_submit(user=alice, text=f"a blue square {n}", steps=1)
            return "queued"
        except QuotaExceeded:
            return "refused"
        finally:
            connection.close()  # each thread's own connection

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(submit, range(50)))
    assert outcomes.count("queued") == 5 and outcomes.count("refused") == 45
    assert GenerationJob.objects.filter(user=alice).count() == 5


def test_the_images_of_a_day_are_counted_with_the_new_job(alice, model_version, settings):
    settings.T2I_QUOTA_IMAGES_PER_DAY = 6
    SucceededJobFactory(user=alice, prompt__num_images=4)
    with pytest.raises(QuotaExceeded) as refused:
        generation_job_submit(user=alice, text="a red circle", steps=1, num_images=3)
    assert refused.value.limit == "images_per_day" and refused.value.used == 4
    assert 0 < refused.value.retry_after_s <= 24 * 3600  # when the oldest counted job leaves the window
    generation_job_submit(user=alice, text="a red circle", steps=1, num_images=2)  # 6: exactly the limit


def test_stored_bytes_are_a_quota_too(alice, model_version, settings):
    settings.T2I_QUOTA_STORED_BYTES = 10_000
    GeneratedImageFactory(user=alice, byte_size=10_000)
    with pytest.raises(QuotaExceeded) as refused:
        generation_job_submit(user=alice, text="a red circle", steps=1)
    assert refused.value.limit == "stored_bytes" and "delete some" in refused.value.message


def test_staff_raise_one_users_limit(alice, bob, model_version, settings):
    settings.T2I_QUOTA_ACTIVE_JOBS = 1
    alice.quota_active_jobs = 3
    alice.save()
    for n in range(3):
        generation_job_submit(user=alice, text=f"a red circle {n}", steps=1)
    generation_job_submit(user=bob, text="a red circle", steps=1)
    with pytest.raises(QuotaExceeded):
        generation_job_submit(user=bob, text="a red circle", steps=1)  # bob keeps the default


def test_the_create_page_says_which_limit_was_reached(client_as, alice, model_version, settings):
    settings.T2I_QUOTA_ACTIVE_JOBS = 1
    generation_job_submit(user=alice, text="a red circle", steps=1)
    form = {"prompt": "a blue square", "steps": 1, "guidance": 4, "num_images": 1, "size": "64x64", "model": ""}
    response = client_as(alice).post("/", {**form, "visibility": "private"})
    assert response.status_code == 429 and "the most at once" in response.content.decode()
