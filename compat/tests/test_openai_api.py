"""OpenAI's Images API: the shapes the `openai` package reads, errors included, over ordinary jobs."""

import base64
import io

import pytest
from PIL import Image

from generation.models import GenerationJob


@pytest.fixture
def alice_api(api_as, alice, model_version):
    return api_as(alice)


def _png(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_b64_json_returns_n_pngs_of_the_asked_size_and_the_job_is_in_the_gallery(alice_api, alice, worker_in_process):
    body = {"model": "diffusion", "prompt": "a red circle", "n": 2, "size": "64x64", "response_format": "b64_json"}
    response = alice_api.post("/v1/images/generations", body, format="json")

    assert response.status_code == 200, response.data
    images = [_png(item["b64_json"]) for item in response.data["data"]]
    assert [(image.format, image.size) for image in images] == [("PNG", (64, 64))] * 2
    assert isinstance(response.data["created"], int)
    job = GenerationJob.objects.get(user=alice)  # an ordinary job of hers, with both images
    assert job.status == "succeeded" and job.images.count() == 2


def test_url_answers_a_signed_link_that_serves_the_png_without_a_key(alice_api, client, worker_in_process):
    response = alice_api.post(
        "/v1/images/generations", {"prompt": "a blue square", "response_format": "url"}, format="json"
    )

    url = response.data["data"][0]["url"]
    assert url.startswith("http://testserver/v1/images/files/")
    fetched = client.get(url.removeprefix("http://testserver"))
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(fetched.streaming_content))).size == (64, 64)
    tampered = client.get(url.removeprefix("http://testserver")[:-2] + "xx")
    assert tampered.status_code == 404 and tampered.json()["error"]["code"] == "not_found"


def test_an_expired_link_is_refused(alice_api, client, worker_in_process, monkeypatch):
    from compat import openai_api

    url = alice_api.post("/v1/images/generations", {"prompt": "a square"}, format="json").data["data"][0]["url"]
    monkeypatch.setattr(openai_api, "URL_TTL_S", -1)
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 403 and "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "a circle", "size": "1024x1024"}, "size"),
        ({"prompt": "a circle", "n": 9}, "n"),
        ({"prompt": "a circle", "model": "dall-e-3"}, "model"),
        ({"prompt": "a circle", "response_format": "jpeg"}, "response_format"),
        ({"prompt": "a circle", "quality": "hd"}, "quality"),
        ({"prompt": "a circle", "style": "vivid"}, "style"),
        ({"prompt": "a circle", "colour": "red"}, "colour"),
        ({"prompt": "   "}, "prompt"),
        ({}, "prompt"),
    ],
)
def test_bad_requests_are_openai_shaped_400s_naming_the_param(alice_api, body, param):
    response = alice_api.post("/v1/images/generations", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert error["message"]


def test_the_size_error_lists_what_the_model_makes(alice_api):
    error = alice_api.post("/v1/images/generations", {"prompt": "x", "size": "512x512"}, format="json").json()["error"]
    assert "64x64" in error["message"]


def test_a_missing_or_wrong_key_is_a_401_invalid_api_key(api_as, model_version):
    anonymous = api_as(None).post("/v1/images/generations", {"prompt": "a circle"}, format="json")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert client.get("/v1/models").json()["error"]["code"] == "invalid_api_key"


def test_over_quota_is_a_429_insufficient_quota_with_retry_after(alice_api, settings):
    settings.T2I_QUOTA_ACTIVE_JOBS = 1
    GenerationJob.objects.all().delete()
    alice_api.post("/api/jobs/", {"prompt": "first"}, format="json")  # queued, not run: holds her one slot

    response = alice_api.post("/v1/images/generations", {"prompt": "second"}, format="json")
    assert response.status_code == 429 and response.json()["error"]["code"] == "insufficient_quota"
    assert int(response["Retry-After"]) >= 1


def test_a_failed_job_is_a_500_server_error_naming_it(alice_api, worker_in_process, monkeypatch):
    from generation import execution

    def broken(batch):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(execution, "_generate", broken)
    monkeypatch.setattr("django.conf.settings.T2I_JOB_MAX_ATTEMPTS", 1)
    response = alice_api.post("/v1/images/generations", {"prompt": "a circle"}, format="json")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error" and "failed" in response.json()["error"]["message"]


def test_models_lists_every_served_version(alice_api, model_version):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(version_name="gan", is_current=False, samplers=[])
    listed = alice_api.get("/v1/models").json()
    assert listed["object"] == "list"
    assert {m["id"] for m in listed["data"]} == {"diffusion", "gan"}
    assert all(m["object"] == "model" for m in listed["data"])
    assert alice_api.get("/v1/models/gan").json()["id"] == "gan"
    assert alice_api.get("/v1/models/nope").status_code == 404
