"""The REST API's contract: routes, fields, 400s that name the field, unknown fields rejected."""

import io
import re

import pytest
from PIL import Image

from generation.models import GeneratedImage, GenerationJob
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory, PublicImageFactory


@pytest.fixture
def alice_api(api_as, alice, model_version):
    return api_as(alice)


def test_post_job_creates_a_queued_job_and_enqueues_it_after_commit(alice_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_api.post("/api/jobs/", {"prompt": "a red circle", "seed": 7, "num_images": 2}, format="json")

    assert response.status_code == 201
    body = response.data
    assert body["status"] == "queued" and body["progress"] == 0 and body["images"] == []
    assert (body["prompt"], body["seed"], body["num_images"], body["model"]) == ("a red circle", 7, 2, "diffusion")
    # the model version's defaults fill what the request left out
    assert (body["steps"], body["guidance"], body["width"], body["height"]) == (5, 4.0, 64, 64)
    assert body["visibility"] == "private"
    assert len(callbacks) == 1  # exactly one Celery enqueue, and only once the row is committed


def test_a_missing_seed_is_drawn_and_stored_so_the_job_can_be_reproduced(alice_api):
    response = alice_api.post("/api/jobs/", {"prompt": "a red circle"}, format="json")
    assert isinstance(response.data["seed"], int) and 0 <= response.data["seed"] < 2**31


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 501}, "prompt"),
        ({"prompt": "ok", "steps": 0}, "steps"),
        ({"prompt": "ok", "steps": 101}, "steps"),
        ({"prompt": "ok", "guidance": -0.5}, "guidance"),
        ({"prompt": "ok", "guidance": 20.5}, "guidance"),
        ({"prompt": "ok", "num_images": 0}, "num_images"),
        ({"prompt": "ok", "num_images": 5}, "num_images"),
        ({"prompt": "ok", "width": 128}, "width"),
        ({"prompt": "ok", "height": 32}, "height"),
        ({"prompt": "ok", "model": "no-such-model"}, "model"),
        ({"prompt": "ok", "visibility": "friends"}, "visibility"),
        ({"prompt": "ok", "sampler": "LMS"}, "sampler"),
        ({"prompt": "ok", "steps": "many"}, "steps"),
        ({"prompt": "ok", "step": 10}, "step"),  # a typo is an unknown field, not a silent default
        ({}, "prompt"),
    ],
)
def test_bad_job_input_is_a_400_naming_the_field(alice_api, payload, field):
    response = alice_api.post("/api/jobs/", payload, format="json")
    assert response.status_code == 400
    assert field in response.data, response.data
    assert not GenerationJob.objects.exists()


def test_an_unknown_sampler_is_refused_with_the_samplers_offered(alice_api):
    response = alice_api.post("/api/jobs/", {"prompt": "ok", "sampler": "LMS"}, format="json")
    assert response.status_code == 400 and "DDIM, DPM++ 2M, Euler, Euler a, UniPC" in response.data["sampler"][0]
    ok = alice_api.post("/api/jobs/", {"prompt": "ok", "sampler": "Euler a"}, format="json")
    assert ok.status_code == 201 and ok.data["sampler"] == "Euler a"


def test_boundary_values_are_accepted(alice_api):
    payload = {"prompt": "x" * 500, "steps": 100, "guidance": 20, "num_images": 4, "width": 64, "height": 64}
    assert alice_api.post("/api/jobs/", payload, format="json").status_code == 201


def test_job_detail_lists_images_in_order_with_file_urls(alice_api, alice):
    job = GenerationJobFactory(user=alice, status="succeeded", progress=1.0)
    second = GeneratedImageFactory(user=alice, job=job, index=1, seed=job.prompt.seed + 1)
    first = GeneratedImageFactory(user=alice, job=job, index=0)

    body = alice_api.get(f"/api/jobs/{job.pk}/").data

    assert body["status"] == "succeeded" and body["progress"] == 1.0
    assert [(i["id"], i["url"]) for i in body["images"]] == [
        (first.pk, f"/api/images/{first.pk}/file/"),
        (second.pk, f"/api/images/{second.pk}/file/"),
    ]


def test_cancel_a_queued_job_then_cancelling_again_is_a_409(alice_api, alice):
    job = GenerationJobFactory(user=alice)

    first = alice_api.post(f"/api/jobs/{job.pk}/cancel/")
    again = alice_api.post(f"/api/jobs/{job.pk}/cancel/")

    assert first.status_code == 200 and first.data["status"] == "cancelled"
    assert again.status_code == 409 and "status" in again.data  # well formed, but the job's state refuses it


def test_cancelling_a_running_job_flags_it_for_the_worker(alice_api, alice):
    job = GenerationJobFactory(user=alice, status="running")
    response = alice_api.post(f"/api/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert response.data["status"] == "running" and job.cancel_requested  # the worker stops at its next step


def test_image_search_by_prompt_text_within_scope(api_as, alice, bob, model_version):
    mine = GeneratedImageFactory(user=alice, job__prompt__text_content="A red circle")
    GeneratedImageFactory(user=alice, job__prompt__text_content="a blue square")
    public = PublicImageFactory(user=bob, job__prompt__text_content="three red triangles")

    mine_ids = [i["id"] for i in api_as(alice).get("/api/images/?scope=mine&q=RED").data["results"]]
    public_ids = [i["id"] for i in api_as(alice).get("/api/images/?scope=public&q=red").data["results"]]

    assert mine_ids == [mine.pk] and public_ids == [public.pk]
    assert api_as(alice).get("/api/images/?scope=everything").status_code == 400


def test_image_list_paginates(api_as, alice, model_version):
    GeneratedImageFactory.create_batch(26, user=alice)
    first = api_as(alice).get("/api/images/?scope=mine").data
    second = api_as(alice).get("/api/images/?scope=mine&page=2").data
    assert first["count"] == 26 and len(first["results"]) == 24 and len(second["results"]) == 2
    assert not {i["id"] for i in first["results"]} & {i["id"] for i in second["results"]}


def test_patch_visibility_makes_an_image_public_and_rejects_anything_else(alice_api, alice):
    image = GeneratedImageFactory(user=alice)

    assert (
        alice_api.patch(f"/api/images/{image.pk}/", {"visibility": "public"}, format="json").data["visibility"]
        == "public"
    )
    assert "visibility" in alice_api.patch(f"/api/images/{image.pk}/", {"visibility": "x"}, format="json").data
    assert "seed" in alice_api.patch(f"/api/images/{image.pk}/", {"seed": 1}, format="json").data
    image.refresh_from_db()
    assert image.visibility == "public"


def test_delete_removes_the_row_and_the_file(alice_api, alice, django_capture_on_commit_callbacks):
    image = GeneratedImageFactory(user=alice)
    storage, name = image.file.storage, image.file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/images/{image.pk}/").status_code == 204
    assert not GeneratedImage.objects.filter(pk=image.pk).exists() and not storage.exists(name)


def test_file_route_serves_the_png_and_offers_it_as_a_download(alice_api, alice):
    image = GeneratedImageFactory(user=alice)
    response = alice_api.get(f"/api/images/{image.pk}/file/?download=1")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (64, 64)


def test_token_endpoint_exchanges_credentials_for_a_token_that_authenticates(api_as, alice):
    client = api_as(None)
    good = client.post("/api/auth/token/", {"username": "alice", "password": "correct horse battery staple"})
    bad = client.post("/api/auth/token/", {"username": "alice", "password": "nope"})

    assert good.status_code == 200 and bad.status_code == 401  # well formed, wrong password
    client.credentials(HTTP_AUTHORIZATION=f"Token {good.data['token']}")
    assert client.get("/api/auth/me/").data["username"] == "alice"


def test_models_route_lists_versions_with_supported_sizes(api_as, model_version):
    body = api_as(None).get("/api/models/").data
    assert body[0]["version_name"] == "diffusion" and body[0]["supported_sizes"] == [[64, 64]]
    assert {"accuracy", "loss", "created_at"} <= set(body[0])


def test_openapi_schema_documents_the_public_routes(api_as):
    response = api_as(None).get("/api/schema/?format=json")
    paths = response.json()["paths"]
    for route in (
        "/api/auth/token/",
        "/api/jobs/",
        "/api/jobs/{job_id}/",
        "/api/jobs/{job_id}/cancel/",
        "/api/images/",
        "/api/images/{image_id}/",
        "/api/images/{image_id}/file/",
        "/api/images/{image_id}/feedback/",
        "/api/models/",
    ):
        assert route in paths, route


def test_swagger_ui_assets_are_served_locally(client_as):
    html = client_as(None).get("/api/docs/").content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    # no asset from another host (the page's random CSRF token may spell "cdn", so look at the URLs)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not any(host in html for host in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"))


def test_openapi_schema_is_valid_and_free_of_warnings(db):
    from io import StringIO

    from django.core.management import call_command

    # --fail-on-warn: colliding component names or views spectacular cannot read make a wrong schema
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_the_api_names_the_words_the_model_does_not_know(api_as, alice, model_version):
    response = api_as(alice).post("/api/jobs/", {"prompt": "a photo of a cat on a sofa", "steps": 1}, format="json")
    assert response.status_code == 201
    assert response.data["unknown_words"] == ["photo", "cat", "sofa"]
    assert "“photo”, “cat”, “sofa”" in response.data["warnings"][0]
    known = api_as(alice).post("/api/jobs/", {"prompt": "three yellow triangles", "steps": 1}, format="json")
    assert known.data["unknown_words"] == [] and known.data["warnings"] == []


def test_the_model_list_says_which_words_each_model_knows(api_as, model_version):
    listed = api_as(None).get("/api/models/").data[0]
    assert "triangle" in listed["vocabulary"]["shapes"] and "to the left of" in listed["vocabulary"]["relations"]
