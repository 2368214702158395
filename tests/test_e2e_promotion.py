"""End to end in headless Chromium: staff sign in, see a refused promotion's failing category, force it with a
reason, and see the alias move and the change recorded. Real daphne, PostgreSQL, MLflow registry on disk."""

import pytest

from tests.browser import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_staff_page_promotes_a_version_and_shows_the_change(
    staff, champion, challenger_factory, live_studio, browser_page, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from modelops.runtime import registry_client

    challenger = challenger_factory(position=0.2)  # 0.2 worse on position: the gate refuses it
    page = browser_page
    sign_in(page, live_studio, "stella", next_path="/modelops/", ready="#versions")
    row = page.locator(f"#version-{challenger.pk}")
    assert "challenger" in row.locator(".aliases").text_content()

    row.locator("input[name=reason]").fill("first try")
    row.locator("button:has-text('Promote to champion')").click()
    page.wait_for_selector(".toast.error")
    assert "position" in page.inner_text(".toast.error")
    assert registry_client().alias_version("champion").version == 1

    row = page.locator(f"#version-{challenger.pk}")
    row.locator("input[name=reason]").fill("arena users prefer it")
    row.locator("input[name=force]").check()
    row.locator("button:has-text('Promote to champion')").click()
    page.wait_for_selector(".toast.success")

    assert "is now the champion" in page.inner_text(".toast.success")
    assert "champion" in page.locator(f"#version-{challenger.pk} .aliases").text_content()
    latest = page.locator("#changes tbody tr").first.inner_text()
    assert "Promoted to champion" in latest and "(forced)" in latest and "arena users prefer it" in latest
    assert "stella" in latest
    assert registry_client().alias_version("champion").version == challenger.registry_version
