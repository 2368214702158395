"""The create page in headless Chromium: a change of model sets its defaults, the words the model does not know
are named while typing and once more before generating, the guide's words and examples fill the prompt, and
Ctrl+Enter generates. Real daphne, PostgreSQL; jobs are held (nothing here needs a picture)."""

import pytest

from tests.browser import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gan_row(transactional_db, model_version):
    from modelops.tests.factories import ModelVersionFactory

    return ModelVersionFactory(
        version_name="gan", source="gan", is_current=False, default_steps=1, default_guidance=1.0, samplers=[]
    )


@pytest.fixture
def signed_in(held_enqueue, gan_row, alice, live_studio, browser_page, monkeypatch):
    # rows first, then the browser: Playwright's sync API keeps an event loop in this thread
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sign_in(browser_page, live_studio, "alice", ready="#prompt-form")
    return browser_page


def test_choosing_a_model_sets_its_defaults(signed_in):
    page = signed_in
    options = page.locator("#id_model option")
    assert options.all_inner_texts() == ["diffusion (champion)", "gan"]  # one entry per model
    assert page.input_value("#id_steps") == "5" and page.is_visible("#id_sampler")
    page.select_option("#id_model", "gan")
    assert page.input_value("#id_steps") == "1" and page.input_value("#id_guidance") == "1"
    assert not page.is_visible("#id_sampler")  # the GAN draws in one pass: there is no sampler to choose
    page.select_option("#id_model", "")
    assert page.input_value("#id_steps") == "5" and page.is_visible("#id_sampler")


def test_unknown_words_are_named_while_typing_and_before_generating(signed_in):
    from generation.models import GenerationJob

    page = signed_in
    page.fill("#id_prompt", "a photo of a cat on a sofa")
    page.wait_for_selector("#prompt-hint:has-text('“photo”, “cat”, “sofa”')")
    page.press("#id_prompt", "Control+Enter")
    page.wait_for_selector("#prompt-warning")
    assert "“photo”, “cat”, “sofa”" in page.inner_text("#prompt-warning")
    assert page.inner_text("#generate").startswith("Generate anyway")
    assert not GenerationJob.objects.exists()
    page.press("#id_prompt", "Control+Enter")  # asked once: the same words again generate
    page.wait_for_selector("#job")
    assert GenerationJob.objects.get().prompt.text_content == "a photo of a cat on a sofa"


def test_the_guide_fills_the_prompt(signed_in):
    page = signed_in
    page.click("#prompt-guide [data-example='three yellow triangles']")
    assert page.input_value("#id_prompt") == "three yellow triangles"
    page.fill("#id_prompt", "a red")
    page.click("#prompt-guide [data-insert='circle']")
    assert page.input_value("#id_prompt") == "a red circle"
    assert page.inner_text("#prompt-hint") == ""  # every word known: nothing to warn about
