"""The create page: landing for visitors, the form for users, errors shown on the right field."""

from generation.models import GenerationJob


def test_visitors_get_the_landing_page_with_public_images_only(client_as, model_version):
    from generation.tests.factories import GeneratedImageFactory, PublicImageFactory

    public, private = PublicImageFactory(), GeneratedImageFactory()
    html = client_as(None).get("/").content.decode()
    assert "Start creating" in html
    assert f"/images/{public.pk}/" in html and f"/images/{private.pk}/" not in html


def test_submitting_the_form_creates_a_job_and_opens_its_page(client_as, alice, model_version):
    response = client_as(alice).post(
        "/",
        {
            "prompt": "a red circle",
            "negative_prompt": "",
            "steps": 6,
            "guidance": 3.5,
            "seed": 9,
            "num_images": 2,
            "size": "64x64",
            "model": "diffusion",
            "visibility": "public",
        },
    )
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert (job.prompt.steps, job.prompt.seed, job.prompt.num_images, job.visibility) == (6, 9, 2, "public")


def test_an_out_of_range_value_is_shown_on_its_field_and_nothing_is_queued(client_as, alice, model_version):
    response = client_as(alice).post(
        "/",
        {
            "prompt": "a red circle",
            "steps": 500,
            "guidance": 4,
            "num_images": 1,
            "size": "64x64",
            "model": "diffusion",
            "visibility": "private",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["steps"] == ["must be between 1 and 100"]
    assert not GenerationJob.objects.exists()


def test_remix_link_prefills_the_form(client_as, alice, model_version):
    html = client_as(alice).get("/?prompt=two+green+triangles&steps=12").content.decode()
    assert "two green triangles</textarea>" in html and 'value="12"' in html
