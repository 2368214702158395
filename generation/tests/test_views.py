"""The image page and its actions on the website."""

import io

from PIL import Image

from generation.models import GenerationJob
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory, PublicImageFactory


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


def test_vary_seed_queues_one_job_of_the_next_four_seeds(client_as, alice, model_version):
    image = GeneratedImageFactory(
        user=alice, seed=41, job__prompt__seed=40, job__prompt__num_images=2, job__prompt__sampler="DPM++ 2M"
    )
    response = client_as(alice).post(f"/images/{image.pk}/vary/")
    job = GenerationJob.objects.exclude(pk=image.job_id).get()  # one job, not one per seed
    assert response["Location"] == f"/jobs/{job.pk}/"
    prompt = job.prompt
    # a job's image i has its prompt's seed + i: the new images are seeds 42..45, the original's neighbours
    assert [prompt.seed + i for i in range(prompt.num_images)] == [42, 43, 44, 45]
    assert (prompt.text_content, prompt.steps, prompt.guidance, prompt.sampler) == (
        image.prompt.text_content,
        image.prompt.steps,
        image.prompt.guidance,
        image.prompt.sampler,
    )


def test_vary_seed_over_quota_says_why_and_returns_to_the_job_page(client_as, alice, model_version, monkeypatch):
    from generation import services
    from generation.quotas import QuotaExceeded

    image = GeneratedImageFactory(user=alice)

    def refuse(**kwargs):
        raise QuotaExceeded(limit="images_per_day", allowed=1, used=1, retry_after_s=60, message="No images left.")

    monkeypatch.setattr(services, "quota_check_submission", refuse)
    client = client_as(alice)
    response = client.post(f"/images/{image.pk}/vary/", {"next": f"/jobs/{image.job_id}/"})
    assert response["Location"] == f"/jobs/{image.job_id}/"
    assert GenerationJob.objects.count() == 1
    assert "No images left." in client.get(response["Location"]).content.decode()


def test_refused_action_never_returns_to_another_site(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice, seed=2**31 - 1)  # its next seed is out of range: refused
    response = client_as(alice).post(f"/images/{image.pk}/vary/", {"next": "https://elsewhere.example/"})
    assert response["Location"] == f"/images/{image.pk}/"


def test_rerun_with_a_new_seed_draws_a_different_picture(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice, seed=7, job__prompt__seed=7)
    client = client_as(alice)
    seeds = set()
    for _ in range(3):  # a random seed may, once in two billion, be 7 again; three in a row cannot all be
        client.post(f"/images/{image.pk}/rerun/", {"seed": "new"})
        seeds.add(GenerationJob.objects.latest("pk").prompt.seed)
    assert seeds - {7}
    assert GenerationJob.objects.latest("pk").layout_rows == 0  # a new picture needs no call layout to match


def test_rerun_with_the_same_seed_says_the_picture_will_be_identical(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice)
    response = client_as(alice).post(f"/images/{image.pk}/rerun/", {"seed": "same"}, follow=True)
    assert "the same picture, pixel for pixel" in response.content.decode()


def test_use_settings_query_carries_every_prefill_key_of_the_create_page(client_as, alice, model_version):
    from urllib.parse import parse_qs

    from generation.templatetags.studio_links import use_settings_query
    from generation.views import PREFILL_KEYS

    image = GeneratedImageFactory(
        user=alice,
        seed=12,
        job__prompt__seed=11,
        job__prompt__num_images=3,
        job__prompt__negative_prompt="blur & noise",
        job__prompt__guidance=6.5,
    )
    of_image = {key: values[0] for key, values in parse_qs(use_settings_query(image), keep_blank_values=True).items()}
    assert set(of_image) == set(PREFILL_KEYS)
    assert of_image == {
        "prompt": image.prompt.text_content,
        "negative_prompt": "blur & noise",
        "seed": "12",
        "steps": str(image.prompt.steps),
        "guidance": "6.5",
        "size": "64x64",
        "num_images": "1",  # an image stands for itself alone
        "model": "diffusion",
        "sampler": image.prompt.sampler,
    }
    of_prompt = parse_qs(use_settings_query(image.prompt), keep_blank_values=True)
    assert (of_prompt["seed"], of_prompt["num_images"]) == (["11"], ["3"])  # the whole job again

    # the create page reads them back into its form
    form = client_as(alice).get("/?" + use_settings_query(image)).context["form"]
    initial = form.initial
    assert (initial["prompt"], initial["seed"], initial["size"]) == (image.prompt.text_content, "12", "64x64")


def test_image_page_says_the_sampler_in_plain_words(client_as, alice, model_version):
    model_version.sampler_name = "UniPC, best of 10 ranked by a critic, pruned 2@1,1@4 (keep@step), in bf16 until then"
    model_version.save()
    image = GeneratedImageFactory(user=alice, model_version=model_version, job__prompt__sampler="")
    html = client_as(alice).get(f"/images/{image.pk}/").content.decode()
    assert (
        "UniPC · best of 10 candidates, ranked by a critic, the best 2 kept from step 1, the best kept from step 4"
        " · bfloat16 until then"
    ) in html
    assert "keep@step" not in html.split("infotext")[0]  # the PNG's infotext keeps the model's label; the page does not


def test_progress_words_count_each_image_once_however_the_calls_are_batched():
    from generation.templatetags.studio_links import images_at_step

    def words(step, count, per_call=8, steps=8):
        return str(images_at_step(step=step, steps=steps, count=count, per_call=per_call))

    assert words(6, 1) == "step 6 of 8"
    assert words(12, 2) == "images 1-2 of 2, step 6 of 8"  # drawn together: 2 image-steps a step
    assert words(16, 2) == "images 1-2 of 2, step 8 of 8"
    assert words(6, 2, per_call=1) == "image 1 of 2, step 6 of 8"  # one a call
    assert words(14, 2, per_call=1) == "image 2 of 2, step 6 of 8"
    assert words(40, 4, per_call=3) == "image 4 of 4, step 8 of 8"  # a call of 3, then a call of 1
    assert words(12, 4, per_call=3) == "images 1-3 of 4, step 4 of 8"


def test_job_page_shows_the_running_images_and_step_in_plain_words(client_as, alice, model_version):
    job = GenerationJobFactory(user=alice, status="running", prompt__steps=8, prompt__num_images=2, step=12)
    html = client_as(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "images 1-2 of 2, step 6 of 8" in html


def test_finished_job_page_offers_download_use_settings_and_vary_seed_for_each_image(client_as, alice, model_version):
    image = GeneratedImageFactory(user=alice)
    html = client_as(alice).get(f"/jobs/{image.job_id}/").content.decode()
    for text in (f"/api/images/{image.pk}/file/?download=1", "Use settings", f"/images/{image.pk}/vary/"):
        assert text in html, text


def test_cancelling_a_queued_job_leaves_no_cancelling_message(client_as, alice, model_version):
    job = GenerationJobFactory(user=alice)
    response = client_as(alice).post(f"/jobs/{job.pk}/cancel/", follow=True)
    html = response.content.decode()
    assert 'data-status="cancelled"' in html and "Cancelled." in html
    assert "Cancelling" not in html and "Waiting for a worker" not in html and 'id="cancel-form"' not in html


def test_failed_job_page_shows_its_error_and_no_waiting(client_as, alice, model_version):
    job = GenerationJobFactory(user=alice, status="failed", error="The model could not make this image.")
    html = client_as(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "The model could not make this image." in html and "Failed." in html
    assert "Waiting for a worker" not in html and 'id="cancel-form"' not in html


def test_every_gallery_card_offers_its_image_settings(client_as, alice, model_version):
    from django.utils.html import escape

    from generation.templatetags.studio_links import use_settings_query

    mine = PublicImageFactory(user=alice, job__prompt__text_content="a red circle", seed=5)
    client = client_as(alice)
    for path in ("/images/", "/explore/"):
        html = client.get(path).content.decode()
        assert escape(f"/?{use_settings_query(mine)}") in html, path
