"""The live job page in headless Chromium: a queued job's place in the queue, kept current; a running job's images
and step in words; the finished images as the page, each with Download, Use settings and Vary seed; a cancelled
job that looks cancelled. Real daphne, Redis channel layer, Celery worker, PostgreSQL; the tiny model, few steps."""

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SLOW = 90_000  # ms: the machine is shared with other test runs


@pytest.fixture
def alice_page(alice, held_enqueue, live_studio, browser_page, monkeypatch):
    """Alice signed in. Rows before the browser (its event loop refuses database calls until the variable below is
    set); held_enqueue before the server, so the forked server inherits it: jobs wait until released."""
    # Playwright's sync API keeps an event loop in this thread; the test's own DB calls come from it too
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    page = browser_page
    page.set_default_timeout(SLOW)
    page.goto(f"{live_studio}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct horse battery staple")
    page.click("main button[type=submit]")
    page.wait_for_selector("#prompt-form")
    return page


def _record(page, element_id: str) -> list[str]:
    """Every text the element shows from now on: the test sees the live updates, not only the end state."""
    seen: list[str] = []
    page.expose_function("record_" + element_id.replace("-", "_"), lambda text: seen.append(text))
    page.evaluate(
        """(id) => new MutationObserver(() => window["record_" + id.replaceAll("-", "_")](
        document.getElementById(id).textContent.trim())).observe(
        document.getElementById(id), {childList: true, characterData: true, subtree: true})""",
        element_id,
    )
    return seen


def test_queued_job_shows_its_place_in_the_queue_and_moves_up_live(alice, bob, alice_page, live_studio):
    from generation.services import generation_job_cancel, generation_job_submit

    page = alice_page
    ahead = generation_job_submit(user=bob, text="a red circle", steps=2)
    mine = generation_job_submit(user=alice, text="a blue square", steps=2)
    page.goto(f"{live_studio}/jobs/{mine.pk}/")
    assert page.inner_text("#job-phase") == "Waiting for a worker. 1 job ahead of yours."

    generation_job_cancel(job=ahead)  # Bob gives up his place: nothing is sent to Alice's page, it asks the API
    page.wait_for_selector("#job-phase:has-text('Yours is next.')")
    assert page.get_attribute("#job", "data-status") == "queued"


def test_running_job_counts_images_and_steps_then_shows_its_images_with_their_actions(alice_page, live_studio):
    from generation.models import GenerationJob

    page = alice_page
    page.fill("#id_prompt", "a red circle above a blue square")
    page.fill("#id_steps", "4")
    page.select_option("#id_num_images", "2")
    page.click("#prompt-form button[type=submit]")
    page.wait_for_selector("#job")
    assert "Queued. Watch it paint below." in page.inner_text(".toasts")
    phases = _record(page, "job-phase")
    page.wait_for_selector('#job[data-socket="open"]', state="attached")
    from generation.tasks import generation_job_run

    generation_job_run.delay(int(re.search(r"/jobs/(\d+)/$", page.url)[1]))  # the server held it: run it now

    page.wait_for_selector("#results img >> nth=1")
    page.wait_for_selector("#job[data-status='succeeded']", state="attached")
    # both images share one call: each step of it is a step of both, counted once
    assert any(re.fullmatch(r"images 1-2 of 2, step [1-4] of 4", text) for text in phases), phases
    steps = [int(found[1]) for text in phases if (found := re.search(r"step (\d+) of (\d+)", text))]
    assert steps and max(steps) <= 4, phases  # never the image-steps of both (8): a step of the picture
    assert page.inner_text("#job-phase") == "Done: 2 images."

    # the images are the page now: no live preview beside them, no message about the queue
    assert not page.is_visible("#preview-frame") and not page.is_visible("text=Live preview")
    assert not page.locator(".toast").count()
    assert not page.is_visible("#cancel-form")
    results = page.locator("#results .job-result")
    assert results.count() == 2
    for index in range(2):
        result = results.nth(index)
        assert result.locator("img").bounding_box()["width"] >= 250  # large, not a thumbnail
        assert result.locator("a:has-text('Download')").get_attribute("href").endswith("/file/?download=1")
        assert "seed=" in result.locator("a:has-text('Use settings')").get_attribute("href")
        assert result.locator("button:has-text('Vary seed')").is_visible()

    job = GenerationJob.objects.get()
    first = job.images.order_by("index").first()
    results.first.locator("button:has-text('Vary seed')").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    varied = GenerationJob.objects.exclude(pk=job.pk).get()
    assert page.url.endswith(f"/jobs/{varied.pk}/")
    assert (varied.prompt.seed, varied.prompt.num_images) == (first.seed + 1, 4)
    assert page.inner_text("#job-phase").startswith("Waiting for a worker.")


def test_cancelled_job_looks_cancelled(alice, alice_page, live_studio):
    from generation.services import generation_job_cancel, generation_job_submit

    page = alice_page
    live = generation_job_submit(user=alice, text="a green triangle", steps=2)
    clicked = generation_job_submit(user=alice, text="a yellow square", steps=2)

    page.goto(f"{live_studio}/jobs/{live.pk}/")
    page.wait_for_selector('#job[data-socket="open"]', state="attached")
    generation_job_cancel(job=live)  # from elsewhere (the API, another tab): the open page hears it
    page.wait_for_selector("#job[data-status='cancelled']", state="attached")
    _assert_cancelled(page)

    page.goto(f"{live_studio}/jobs/{clicked.pk}/")
    page.click("#cancel-form button")
    page.wait_for_selector("#job[data-status='cancelled']", state="attached")
    _assert_cancelled(page)


def _assert_cancelled(page):
    assert page.text_content("#job-status") == "cancelled"
    assert page.inner_text("#job-phase") == "Cancelled."
    text = page.inner_text("main")
    assert "Waiting for a worker" not in text and "Cancelling" not in text
    assert not page.is_visible("#cancel-form") and not page.is_visible("#progress")
