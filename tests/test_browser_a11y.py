"""Every main page in headless Chromium at a laptop's 1366x900 and a phone's 390x844: axe-core finds no serious or
critical accessibility violation, and no page scrolls sideways. Real daphne and PostgreSQL; the job and image
pages show a finished job made by the factories (nothing here needs the model to draw).

axe-core comes from the npm registry, pinned in package.json; `make browser` (which `make test` runs) installs it.
"""

from pathlib import Path

import pytest

from tests.browser import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"1366x900": (1366, 900), "390x844": (390, 844)}
# page name -> (who is signed in, path); {job} and {image} are the finished job's and its image's ids
PAGES = {
    "home": (None, "/"),
    "sign-in": (None, "/accounts/login/"),
    "sign-up": (None, "/accounts/signup/"),
    "create": ("alice", "/"),
    "job": ("alice", "/jobs/{job}/"),
    "image": ("alice", "/images/{image}/"),
    "explore": ("alice", "/explore/"),
    "explore-signed-out": (None, "/explore/"),
    "my-images": ("alice", "/images/"),
    "account": ("alice", "/accounts/"),
    "arena": ("alice", "/arena/"),
    "modelops": ("stella", "/modelops/"),
    "not-found": ("alice", "/no-such-page/"),
    "not-allowed": ("alice", "/modelops/"),
}
BLOCKING = {"serious", "critical"}


@pytest.fixture
def finished_job(model_version, alice, staff):
    """Alice's succeeded job with one public image she has rated, so the pages show their full markup."""
    from feedback.models import Feedback
    from generation.tests.factories import PublicImageFactory, SucceededJobFactory
    from prompts.tests.factories import TextPromptFactory

    prompt = TextPromptFactory(user=alice, model_version=model_version, text_content="a red circle above a square")
    job = SucceededJobFactory(user=alice, prompt=prompt)
    image = PublicImageFactory(user=alice, job=job, with_attention=True)
    Feedback.objects.create(user=staff, image=image, rating=4, comment="Crisp edges.")
    return job, image


def _axe_violations(page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make browser` (it installs axe-core from package.json with npm ci)")
    page.add_script_tag(path=str(AXE))
    return page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}")
    return "\n".join(lines)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_axe_violation_and_fits_the_screen(
    name, size, held_enqueue, finished_job, live_studio, browser_page, monkeypatch
):
    # rows first, then the browser: Playwright's sync API keeps an event loop in this thread
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    job, image = finished_job
    who, path = PAGES[name]
    width, height = SIZES[size]
    # the studio's Content-Security-Policy refuses inline scripts, axe's included: this page lets the test add it
    page = browser_page.context.browser.new_page(viewport={"width": width, "height": height}, bypass_csp=True)
    page.set_default_timeout(30_000)
    if who is not None:
        sign_in(page, live_studio, who)
    page.goto(live_studio + path.format(job=job.pk, image=image.pk))
    page.wait_for_load_state("networkidle")

    violations = [v for v in _axe_violations(page) if v["impact"] in BLOCKING]
    assert not violations, f"{name} at {size}:\n{_describe(violations)}"
    # a page wider than the screen scrolls sideways: on a phone every line would have to be panned to read
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} at {size} is {scroll_width} px wide"


def test_an_image_is_rated_from_the_keyboard_alone(
    held_enqueue, finished_job, alice, live_studio, browser_page, monkeypatch
):
    """Tab reaches the stars, the arrow keys choose one, the focused star is outlined, and Enter on the form's button
    sends the rating with its comment: no mouse anywhere."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from feedback.models import Feedback

    _, image = finished_job
    page = browser_page
    sign_in(page, live_studio, "alice", next_path=f"/images/{image.pk}/", ready=".star-input")
    page.focus("#star5")  # where Tab lands in the rating group (checked, or else the first radio)
    page.keyboard.press("Tab")  # away, and back: the group is in the tab order
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.name") == "rating"
    outline = page.evaluate("getComputedStyle(document.activeElement.nextElementSibling).outlineStyle")
    assert outline != "none"  # the focused star is visible
    page.keyboard.press("ArrowRight")  # checks the next radio of the group
    checked = page.evaluate("document.querySelector('.star-input input:checked').value")
    page.keyboard.press("Tab")
    page.keyboard.type("Reads well.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Update rating")
    feedback = Feedback.objects.get(user=alice, image=image)
    assert (str(feedback.rating), feedback.comment) == (checked, "Reads well.")
