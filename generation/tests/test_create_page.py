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


CAT = {
    "prompt": "a photo of a cat on a sofa",
    "steps": 4,
    "guidance": 4,
    "num_images": 1,
    "size": "64x64",
    "model": "",
    "visibility": "private",
}


def test_words_the_model_does_not_know_are_named_before_anything_is_queued(client_as, alice, model_version):
    client = client_as(alice)
    first = client.post("/", CAT)
    assert first.status_code == 200 and not GenerationJob.objects.exists()
    html = first.content.decode()
    assert 'id="prompt-warning"' in html and "“photo”, “cat”, “sofa”" in html
    assert first.context["form"].data["confirmed_words"] == "photo cat sofa"
    # the page asked once: the same words again (the person chose to keep them) generate
    second = client.post("/", {**CAT, "confirmed_words": "photo cat sofa"})
    assert second.status_code == 302 and GenerationJob.objects.count() == 1


def test_a_new_unknown_word_after_the_warning_is_named_again(client_as, alice, model_version):
    client = client_as(alice)
    response = client.post("/", {**CAT, "prompt": "a photo of a dog", "confirmed_words": "photo cat sofa"})
    assert response.status_code == 200 and "“dog”" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_a_prompt_in_the_models_words_generates_at_once(client_as, alice, model_version):
    response = client_as(alice).post("/", {**CAT, "prompt": "an orange square above two tiny discs"})
    assert response.status_code == 302 and GenerationJob.objects.count() == 1


def test_the_model_menu_has_one_entry_per_model_carrying_its_defaults(client_as, alice, model_version):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(
        version_name="gan", source="gan", is_current=False, default_steps=1, default_guidance=1.0, samplers=[]
    )
    form = client_as(alice).get("/").context["form"]
    assert form.fields["model"].choices == [("", "diffusion (champion)"), ("gan", "gan")]
    html = form["model"].as_widget()
    assert 'value="gan" data-steps="1" data-guidance="1"' in html and 'data-samplers="[]"' in html
    assert "&quot;circle&quot;" in html  # the words it knows, for the live hint


def test_use_settings_links_prefill_every_setting(client_as, alice, model_version):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(
        version_name="gan", source="gan", is_current=False, default_steps=1, default_guidance=1.0, samplers=[]
    )
    query = (
        "prompt=a+red+circle&seed=7&steps=9&guidance=2.5&size=64x64&num_images=3&model=gan&sampler=&negative_prompt=x"
    )
    form = client_as(alice).get(f"/?{query}").context["form"]
    assert form["prompt"].value() == "a red circle" and form["seed"].value() == "7"
    assert form["steps"].value() == "9" and form["num_images"].value() == "3" and form["model"].value() == "gan"
    # the champion's version named by name is the menu's champion entry
    assert client_as(alice).get("/?model=diffusion").context["form"]["model"].value() == ""


def test_the_prompt_guide_lists_the_words_on_the_create_and_landing_pages(client_as, alice, model_version):
    for client in (client_as(alice), client_as(None)):
        html = client.get("/").content.decode()
        assert 'id="prompt-guide"' in html and "What diffusion can draw" in html
        assert ">triangle<" in html and ">to the left of<" in html and "an orange square and a purple triangle" in html


def test_recent_jobs_show_a_thumbnail_a_time_and_a_way_to_reuse_their_settings(client_as, alice, model_version):
    from django.utils.html import escape

    from generation.templatetags.studio_links import use_settings_query
    from generation.tests.factories import GeneratedImageFactory

    image = GeneratedImageFactory(user=alice, job__prompt__text_content="two green crosses", job__prompt__seed=8)
    html = client_as(alice).get("/").content.decode()
    assert f"/api/images/{image.pk}/file/" in html  # the job's first image as its thumbnail
    assert "<time datetime=" in html and "two green crosses" in html
    assert escape(f"/?{use_settings_query(image.prompt)}") in html
