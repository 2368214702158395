"""The arena in headless Chromium: a pair paints with live progress on the page (no reload), the vote is cast from
the keyboard, and only then does the page say which model painted which. Real daphne, Redis channel layer, Celery
worker, PostgreSQL; the tiny model as champion and a registered copy as challenger."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def held_pairs(monkeypatch):
    """Pairs started in the test reach the worker only when the test sends them (after the page listens)."""
    from modelops.tasks import arena_match_render_task

    send = arena_match_render_task.delay
    monkeypatch.setattr(arena_match_render_task, "delay", lambda match_id: None)
    return send


def test_the_pair_paints_live_then_the_vote_names_the_models(
    held_pairs, champion, challenger_factory, live_studio, browser_page, monkeypatch
):
    # held_pairs comes first so the forked server inherits it; the test's own DB reads run beside Playwright's loop
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from accounts.tests.factories import UserFactory
    from modelops.models import ArenaMatch

    challenger = challenger_factory(name="contender")
    UserFactory(username="dana", password="a long enough passphrase 42")
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_studio}/accounts/login/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "a long enough passphrase 42")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_studio}/")

    page.goto(f"{live_studio}/arena/")
    page.click("#arena-start")
    page.wait_for_selector('#arena[data-socket="open"]', state="attached", timeout=60_000)
    assert page.get_attribute("#arena", "data-status") == "rendering"
    assert page.is_disabled("#vote-left") and page.is_disabled("#vote-right") and page.is_disabled("#vote-tie")
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    # the page keeps what its progress line said (a reload would lose it, and `loads` would say so)
    page.evaluate("""() => { window.progressTexts = [];
        const line = document.getElementById('arena-progress-text');
        new MutationObserver(() => window.progressTexts.push(line.textContent)).observe(
            line, {childList: true, characterData: true, subtree: true}); }""")

    match = ArenaMatch.objects.get(pk=int(page.get_attribute("#arena", "data-match-id")))
    held_pairs(match.pk)
    page.wait_for_selector('#arena[data-status="ready"]', timeout=120_000)

    assert loads == []  # the pair arrived on the open page
    texts = page.evaluate("window.progressTexts")
    assert any("image A" in text for text in texts) and any("image B" in text for text in texts), texts
    assert page.get_attribute("#arena-bar", "aria-valuenow") == "100"
    for side in ("a", "b"):  # the PNGs load
        page.wait_for_function(f"document.getElementById('image-{side}').naturalWidth === 64", timeout=30_000)
    main = page.inner_text("main")
    for name in (champion.version_name, challenger.version_name, "champion", "challenger"):
        assert name not in main.lower()  # judged blind
    widths = {page.locator(button).bounding_box()["width"] for button in ("#vote-left", "#vote-right", "#vote-tie")}
    assert len({round(width) for width in widths}) == 1, widths

    page.set_viewport_size({"width": 390, "height": 844})
    left, right = (page.locator(f"#card-{side}").bounding_box() for side in ("a", "b"))
    assert right["y"] >= left["y"] + left["height"]  # stacked on a phone
    inside = "[...document.querySelectorAll('main *')].every(e => e.getBoundingClientRect().right <= innerWidth)"
    assert page.evaluate(inside)  # nothing in the arena runs off the side of the screen
    page.set_viewport_size({"width": 1366, "height": 900})

    page.keyboard.press("b")  # the vote from the keyboard
    page.wait_for_selector("#arena-verdict")
    match.refresh_from_db()
    left_version, right_version = (
        (match.champion, match.challenger) if match.champion_on_left else (match.challenger, match.champion)
    )
    assert match.choice == "right"
    assert page.inner_text("#model-a").split()[0] == left_version.version_name
    assert page.inner_text("#model-b").split()[0] == right_version.version_name
    assert f"painted by {right_version.version_name}" in page.inner_text("#arena-verdict")
