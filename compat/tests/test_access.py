"""The client APIs' routes x owner (alice) / other user (bob) / staff (stella) / anonymous, as t2i_site's matrix.

Anonymous callers get 401 everywhere but a signed image link, which works for whoever holds it until it expires.
Bodies are chosen so that no case runs a job: a refusal (400) proves the caller got past authentication.
"""

import pytest

from compat.openai_api import image_signed_url
from generation.tests.factories import GeneratedImageFactory

WHO = ("owner", "other", "staff", "anon")
SIGNED_IN = {"owner": 200, "other": 200, "staff": 200, "anon": 401}
REFUSED = {"owner": 400, "other": 400, "staff": 400, "anon": 401}

# (method, url, body, {who: expected}); {token} is a signed link to alice's private image
CASES = [
    ("get", "/v1/models", None, SIGNED_IN),
    ("get", "/v1/models/diffusion", None, SIGNED_IN),
    ("post", "/v1/images/generations", {"n": 1}, REFUSED),  # no prompt
    ("get", "/v1/images/files/{token}", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("post", "/sdapi/v1/txt2img", {"prompt": "a red circle", "enable_hr": True}, REFUSED),  # no hires fix
    ("get", "/sdapi/v1/progress", None, SIGNED_IN),
    ("post", "/sdapi/v1/interrupt", None, SIGNED_IN),
    ("get", "/sdapi/v1/sd-models", None, SIGNED_IN),
    ("get", "/sdapi/v1/samplers", None, SIGNED_IN),
    ("get", "/sdapi/v1/schedulers", None, SIGNED_IN),
    ("get", "/sdapi/v1/scripts", None, SIGNED_IN),
    ("get", "/sdapi/v1/options", None, SIGNED_IN),
    ("post", "/sdapi/v1/options", {"sd_model_checkpoint": "diffusion"}, SIGNED_IN),
    ("post", "/sdapi/v1/png-info", {"image": "not base64"}, REFUSED),
]

ROUTES = {url.replace("/diffusion", "/{model_id}") for _, url, _, _ in CASES}


@pytest.fixture
def people(alice, bob, staff):
    return {"owner": alice, "other": bob, "staff": staff, "anon": None}


@pytest.mark.parametrize(
    ("method", "url", "body", "who", "expected"),
    [pytest.param(m, u, b, who, exp[who], id=f"{m} {u} {who}") for m, u, b, exp in CASES for who in WHO],
)
def test_client_api_access(api_as, rf, people, alice, model_version, method, url, body, who, expected):
    if "{token}" in url:
        signed = image_signed_url(rf.get("/"), GeneratedImageFactory(user=alice))
        url = signed[signed.index("/v1/") :]
    response = getattr(api_as(people[who]), method)(url, body, format="json")
    assert response.status_code == expected, response.content[:300]


def test_an_altered_image_link_is_not_found(api_as, rf, alice, model_version):
    signed = image_signed_url(rf.get("/"), GeneratedImageFactory(user=alice))
    assert api_as(None).get(signed[signed.index("/v1/") :] + "x").status_code == 404
