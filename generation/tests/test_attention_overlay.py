"""Attention heat maps on the web side: the worker stores them with each image, the image page offers the
word-by-word overlay, the JSON route serves them under the image's privacy, and a real browser shows them."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from generation.execution import generation_job_execute
from generation.models import GeneratedImage, GenerationJob
from generation.services import generated_image_delete, generation_job_submit
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory, PublicImageFactory


def _sprite(image) -> Image.Image:
    with image.attention_maps.open("rb") as f:
        return Image.open(io.BytesIO(f.read()))


def test_the_worker_stores_each_images_word_maps(alice, model_version):
    job = GenerationJobFactory(
        user=alice, prompt__text_content="two red crosses", prompt__num_images=2, prompt__steps=2
    )
    generation_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    images = list(job.images.order_by("index"))
    assert len(images) == 2
    for image in images:
        assert image.has_attention and image.attention_words == ["two", "red", "crosses"]
        sprite = _sprite(image)
        assert sprite.mode == "L" and sprite.size == (64, 3 * 64)  # one 64x64 map per word, stacked
        maps = np.asarray(sprite).reshape(3, 64, 64)
        assert (maps.reshape(3, -1).max(axis=1) == 255).all()  # each word scaled by its own maximum
    # each image has its own noise, so its own maps
    assert not np.array_equal(np.asarray(_sprite(images[0])), np.asarray(_sprite(images[1])))


def test_a_model_without_attention_stores_none(alice, model_version, monkeypatch):
    from modelops import runtime

    real = runtime.pipeline_load

    class WithoutAttention:  # e.g. a real Stable Diffusion model behind DiffusersTextToImage
        def __init__(self, pipe):
            self.pipe = pipe

        def __call__(self, prompt, **kwargs):
            return self.pipe(prompt, **kwargs)

    monkeypatch.setattr("generation.execution.pipeline_load", lambda source: WithoutAttention(real(source)))
    job = GenerationJobFactory(user=alice, prompt__steps=2)
    generation_job_execute(job_id=job.pk)
    image = GeneratedImage.objects.get(job=job)
    assert not image.has_attention and image.attention_words == [] and not image.attention_maps


def test_a_job_run_by_the_celery_worker_keeps_its_maps(worker, alice, wait):
    job = generation_job_submit(user=alice, text="a red circle above a blue square", steps=2, seed=3)
    wait(lambda: job.images.exists())
    image = job.images.get()
    assert image.attention_words == ["a", "red", "circle", "above", "a", "blue", "square"]
    assert _sprite(image).size == (64, 7 * 64)


def test_image_page_shows_a_chip_per_word_and_the_overlay(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice, job__prompt__text_content="a red circle", with_attention=True)
    html = client_as(alice).get(f"/images/{image.pk}/").content.decode()
    assert 'id="heatmap"' in html and f'data-url="/api/images/{image.pk}/attention/"' in html
    for index, word in enumerate(["a", "red", "circle"]):
        assert f'data-index="{index}" aria-pressed="false">{word}</button>' in html
    assert 'data-index="-1" aria-pressed="true">none</button>' in html and "js/attention.js" in html


def test_image_page_without_maps_has_no_overlay_controls(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice)  # made before maps were kept, or by a model without them
    html = client_as(alice).get(f"/images/{image.pk}/").content.decode()
    assert 'id="heatmap"' not in html and 'class="chip"' not in html and "attention.js" not in html


def test_attention_route_serves_the_words_and_the_maps(api_as, alice, model_version):
    image = GeneratedImageFactory(user=alice, job__prompt__text_content="a blue square", with_attention=True)
    data = api_as(alice).get(f"/api/images/{image.pk}/attention/").json()
    assert data["words"] == ["a", "blue", "square"] and (data["width"], data["height"]) == (64, 64)
    header, encoded = data["maps"].split(",", 1)
    assert header == "data:image/png;base64"
    sprite = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert sprite.size == (64, 3 * 64)
    detail = api_as(alice).get(f"/api/images/{image.pk}/").json()
    assert detail["attention_words"] == data["words"]
    assert detail["attention_url"] == f"/api/images/{image.pk}/attention/"


def test_attention_route_is_404_for_an_image_without_maps(api_as, alice, model_version):
    image = GeneratedImageFactory(user=alice)
    assert api_as(alice).get(f"/api/images/{image.pk}/attention/").status_code == 404
    assert api_as(alice).get(f"/api/images/{image.pk}/").json()["attention_url"] is None


@pytest.mark.parametrize("who, expected", [("alice", 200), ("bob", 404), ("stella", 404), (None, 404)])
def test_a_private_images_maps_are_404_for_everyone_but_its_owner(api_as, client_as, alice, bob, staff, who, expected):
    users = {"alice": alice, "bob": bob, "stella": staff, None: None}
    image = GeneratedImageFactory(user=alice, with_attention=True)
    assert api_as(users[who]).get(f"/api/images/{image.pk}/attention/").status_code == expected
    # the page's session-authenticated fetch goes the same way
    assert client_as(users[who]).get(f"/api/images/{image.pk}/attention/").status_code == expected


def test_a_public_images_maps_are_open_to_everyone(api_as, alice, bob):
    image = PublicImageFactory(user=alice, with_attention=True)
    assert api_as(None).get(f"/api/images/{image.pk}/attention/").status_code == 200
    assert api_as(bob).get(f"/api/images/{image.pk}/attention/").status_code == 200


def test_deleting_an_image_deletes_its_maps_too(alice, model_version, django_capture_on_commit_callbacks):
    image = GeneratedImageFactory(user=alice, with_attention=True)
    storage, names = image.file.storage, [image.file.name, image.attention_maps.name]
    with django_capture_on_commit_callbacks(execute=True):
        generated_image_delete(image=image)
    assert not any(storage.exists(name) for name in names)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_choosing_a_word_shows_its_heat_map_over_the_image(alice, live_server, browser_page, monkeypatch):
    # alice comes before the browser, whose sync API keeps an event loop in this thread; the factories below
    # are plain sync ORM calls made while it runs
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    image = PublicImageFactory(user=alice, job__prompt__text_content="a red circle", with_attention=True)
    plain = PublicImageFactory(user=alice)
    page = browser_page

    page.goto(f"{live_server.url}/images/{plain.pk}/")
    page.wait_for_selector("img#image")
    assert page.locator(".chip").count() == 0 and page.locator("#heatmap").count() == 0

    page.goto(f"{live_server.url}/images/{image.pk}/")
    assert not page.is_visible("#heatmap")
    page.click(".chip:text-is('circle')")
    page.wait_for_selector("#heatmap", state="visible")
    assert page.get_attribute(".chip:text-is('circle')", "aria-pressed") == "true"
    assert page.get_attribute("#attention", "data-shown") == "circle"
    assert "circle" in page.inner_text("#attention-status")
    # the canvas lies over the image and is painted from the word's map: "circle" (word 2) is a disc centred
    # at (52, 12) in the factory's maps, so it glows there and stays dark at the opposite corner
    box_image, box_canvas = page.locator("img#image").bounding_box(), page.locator("#heatmap").bounding_box()
    assert box_image == box_canvas
    alpha_at = "([x, y]) => document.getElementById('heatmap').getContext('2d').getImageData(x, y, 1, 1).data[3]"
    assert page.evaluate(alpha_at, [52, 12]) > 180 and page.evaluate(alpha_at, [5, 60]) < 100

    # keyboard: the arrows move between words, Escape hides the overlay
    page.focus(".chip:text-is('circle')")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#attention[data-shown="red"]', state="attached")
    assert page.evaluate("document.activeElement.textContent") == "red"
    page.keyboard.press("Escape")
    page.wait_for_selector("#heatmap", state="hidden")
    assert page.get_attribute(".chip:text-is('none')", "aria-pressed") == "true"
