"""The image page and its actions on the website."""

import io

from PIL import Image

from generation.models import GenerationJob
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory


def test_image_page_shows_every_parameter_model_and_seed(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice, job__prompt__negative_prompt="blurry", job__prompt__guidance=6.5)
    html = client_as(alice).get(f"/images/{image.pk}/").content.decode()
    for text in (image.prompt.text_content, "blurry", "diffusion", "DPM++ 2M", str(image.seed), "6.5", "64×64"):
        assert text in html, text
    assert f"Seed: {image.seed}, Size: 64x64, Model: diffusion" in html  # the infotext block


def test_rerun_from_the_page_queues_one_image_with_the_same_seed(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice, job__prompt__num_images=3)
    response = client_as(alice).post(f"/images/{image.pk}/rerun/")
    job = GenerationJob.objects.exclude(pk=image.job_id).get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.prompt.seed, job.prompt.num_images, job.prompt.text_content) == (
        image.seed,
        1,
        image.prompt.text_content,
    )


def test_visibility_toggle_and_delete_from_the_page(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice)
    client = client_as(alice)
    client.post(f"/images/{image.pk}/visibility/", {"visibility": "public"})
    image.refresh_from_db()
    assert image.is_public
    assert f"/images/{image.pk}/" in client_as(None).get("/explore/").content.decode()

    assert client.post(f"/images/{image.pk}/delete/")["Location"] == "/images/"
    assert client.get(f"/images/{image.pk}/").status_code == 404


def test_gallery_searches_and_paginates(client_as, alice, model_version):
    GeneratedImageFactory.create_batch(25, user=alice, job__prompt__text_content="a red circle")
    GeneratedImageFactory(user=alice, job__prompt__text_content="a blue square")
    client = client_as(alice)
    assert len(client.get("/images/").context["page"].object_list) == 24
    assert len(client.get("/images/?page=2").context["page"].object_list) == 2
    assert client.get("/images/?q=BLUE").context["page"].paginator.count == 1


def test_job_page_carries_the_current_state_for_the_script(client_as, alice, model_version):
    job = GenerationJobFactory(user=alice, status="running", step=2, total_steps=5, progress=0.4)
    html = client_as(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert '"type": "progress"' in html and 'aria-valuenow="40"' in html


def test_downloaded_png_carries_the_infotext(client_as, alice, model_version):
    from generation.pngs import infotext, png_bytes

    parameters = infotext(
        prompt="a red circle",
        negative_prompt="blur",
        steps=20,
        sampler="DPM++ 2M",
        guidance=4.0,
        seed=7,
        width=64,
        height=64,
        model="diffusion",
    )
    assert parameters == (
        "a red circle\nNegative prompt: blur\n"
        "Steps: 20, Sampler: DPM++ 2M, CFG scale: 4, Seed: 7, Size: 64x64, Model: diffusion"
    )
    png = Image.open(io.BytesIO(png_bytes(Image.new("RGB", (64, 64)), parameters=parameters)))
    assert png.text["parameters"] == parameters
