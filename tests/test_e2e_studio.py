"""End to end in headless Chromium: sign up, submit a prompt, watch the live progress reach 100% with a
preview, then find the image in the gallery. Real daphne, Redis channel layer, Celery worker, PostgreSQL."""

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_up_create_watch_progress_and_find_the_image_in_the_gallery(
    held_enqueue, live_studio, browser_page, monkeypatch
):
    # held_enqueue comes first so the forked server inherits it: the job waits until the page listens
    # Playwright's sync API keeps an event loop in this thread; the test itself makes no DB calls from it
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    page = browser_page
    percents: list[str] = []
    page.expose_function("recordPercent", lambda text: percents.append(text))

    page.goto(f"{live_studio}/accounts/signup/")
    page.fill("#id_username", "carol")
    page.fill("#id_name", "Carol")
    page.fill("#id_password1", "a long enough passphrase 42")
    page.fill("#id_password2", "a long enough passphrase 42")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Welcome, Carol")
    assert page.url == f"{live_studio}/"

    page.fill("#id_prompt", "a red circle above a blue square")
    page.fill("#id_steps", "12")
    page.click("#prompt-form button[type=submit]")
    page.wait_for_selector("#job")
    job_id = int(re.search(r"/jobs/(\d+)/$", page.url).group(1))
    # record every percentage the bar shows, so the test sees the live updates and not only the end state
    page.evaluate("""() => new MutationObserver(() => window.recordPercent(
        document.getElementById('progress-text').textContent)).observe(
        document.getElementById('progress-text'), {childList: true, characterData: true, subtree: true})""")
    page.wait_for_selector('#job[data-socket="open"]', state="attached")
    from generation.tasks import generation_job_run

    generation_job_run.delay(job_id)

    page.wait_for_selector("#results img", timeout=60_000)
    assert page.inner_text("#progress-text") == "100%"
    assert page.get_attribute("#progress", "aria-valuenow") == "100"
    assert page.get_attribute("#job", "data-status") == "succeeded"
    assert page.get_attribute("#preview", "src").startswith("data:image/webp;base64,")
    # the live preview painted, then gave way to the finished image (shown once, not twice on a phone)
    assert not page.is_visible("#preview-frame") and page.is_visible("#results img")
    assert "100%" in percents and len(set(percents)) > 1, percents  # it moved, live, to 100%

    page.click("text=My images")
    page.wait_for_selector("#gallery .card")
    cards = page.locator("#gallery .card")
    assert cards.count() == 1
    assert "a red circle above a blue square" in cards.first.inner_text()
    page.fill("input[name=q]", "blue square")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#gallery .card")
    cards.first.click()
    page.wait_for_selector("img#image")
    assert "Seed" in page.content() and "DPM++ 2M" in page.content()
