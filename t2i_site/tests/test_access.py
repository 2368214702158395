"""Every route x owner (alice) / other user (bob) / staff (stella) / anonymous.

Private images and every job are 404 to anyone but the owner, staff included (staff use the admin);
anonymous users are sent to sign in on pages, get 401 from the API, and see only public things.
"""

import pytest

from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory, PublicImageFactory

WHO = ("owner", "other", "staff", "anon")


@pytest.fixture
def people(alice, bob, staff):
    return {"owner": alice, "other": bob, "staff": staff, "anon": None}


@pytest.fixture
def things(alice, model_version):
    return {
        "job": GenerationJobFactory(user=alice),
        "private": GeneratedImageFactory(user=alice, with_attention=True),
        "public": PublicImageFactory(user=alice, with_attention=True),
    }


LOGIN = "login"  # a redirect to the sign-in page

# (method, url, thing, {who: expected}); {id} is the thing's id
PAGE_CASES = [
    ("get", "/jobs/{id}/", "job", {"owner": 200, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/jobs/{id}/cancel/", "job", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("get", "/images/{id}/", "private", {"owner": 200, "other": 404, "staff": 404, "anon": 404}),
    ("get", "/images/{id}/", "public", {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("post", "/images/{id}/rerun/", "private", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/images/{id}/rerun/", "public", {"owner": 302, "other": 302, "staff": 302, "anon": LOGIN}),
    ("post", "/images/{id}/visibility/", "private", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/images/{id}/visibility/", "public", {"owner": 302, "other": 403, "staff": 403, "anon": LOGIN}),
    ("post", "/images/{id}/delete/", "private", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/images/{id}/delete/", "public", {"owner": 302, "other": 403, "staff": 403, "anon": LOGIN}),
    ("post", "/images/{id}/feedback/", "private", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/images/{id}/feedback/", "public", {"owner": 302, "other": 302, "staff": 302, "anon": LOGIN}),
    ("get", "/images/", None, {"owner": 200, "other": 200, "staff": 200, "anon": LOGIN}),
    ("get", "/explore/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("get", "/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("get", "/admin/", None, {"owner": 302, "other": 302, "staff": 200, "anon": 302}),
    ("get", "/accounts/signup/", None, {"owner": 302, "other": 302, "staff": 302, "anon": 200}),
    ("get", "/accounts/login/", None, {"owner": 302, "other": 302, "staff": 302, "anon": 200}),
]

API_CASES = [
    ("get", "/api/jobs/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 401}),
    ("get", "/api/jobs/{id}/", "job", {"owner": 200, "other": 404, "staff": 404, "anon": 401}),
    ("post", "/api/jobs/{id}/cancel/", "job", {"owner": 200, "other": 404, "staff": 404, "anon": 401}),
    ("get", "/api/images/?scope=mine", None, {"owner": 200, "other": 200, "staff": 200, "anon": 401}),
    ("get", "/api/images/?scope=public", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("get", "/api/images/{id}/", "private", {"owner": 200, "other": 404, "staff": 404, "anon": 404}),
    ("get", "/api/images/{id}/", "public", {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("patch", "/api/images/{id}/", "private", {"owner": 200, "other": 404, "staff": 404, "anon": 404}),
    ("patch", "/api/images/{id}/", "public", {"owner": 200, "other": 403, "staff": 403, "anon": 401}),
    ("delete", "/api/images/{id}/", "private", {"owner": 204, "other": 404, "staff": 404, "anon": 404}),
    ("delete", "/api/images/{id}/", "public", {"owner": 204, "other": 403, "staff": 403, "anon": 401}),
    ("get", "/api/images/{id}/file/", "private", {"owner": 200, "other": 404, "staff": 404, "anon": 404}),
    ("get", "/api/images/{id}/file/", "public", {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("get", "/api/images/{id}/attention/", "private", {"owner": 200, "other": 404, "staff": 404, "anon": 404}),
    ("get", "/api/images/{id}/attention/", "public", {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("post", "/api/images/{id}/feedback/", "private", {"owner": 201, "other": 404, "staff": 404, "anon": 401}),
    ("post", "/api/images/{id}/feedback/", "public", {"owner": 201, "other": 201, "staff": 201, "anon": 401}),
    ("get", "/api/models/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("get", "/api/auth/me/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 401}),
    ("get", "/api/schema/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
    ("get", "/api/docs/", None, {"owner": 200, "other": 200, "staff": 200, "anon": 200}),
]

BODIES = {
    "/visibility/": {"visibility": "public"},
    "/feedback/": {"rating": 5, "comment": "nice"},
}


def _body(method: str, url: str) -> dict:
    if method == "patch":
        return {"visibility": "private"}
    return next((body for suffix, body in BODIES.items() if url.endswith(suffix)), {})


def _expand(cases):
    return [
        pytest.param(m, u, t, who, exp[who], id=f"{m} {u} {t or ''} {who}") for m, u, t, exp in cases for who in WHO
    ]


@pytest.mark.parametrize(("method", "url", "thing", "who", "expected"), _expand(PAGE_CASES))
def test_page_access(client_as, people, things, method, url, thing, who, expected):
    url = url.format(id=things[thing].pk) if thing else url
    response = getattr(client_as(people[who]), method)(url, _body(method, url))

    if expected == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected


@pytest.mark.parametrize(("method", "url", "thing", "who", "expected"), _expand(API_CASES))
def test_api_access(api_as, people, things, method, url, thing, who, expected):
    url = url.format(id=things[thing].pk) if thing else url
    response = getattr(api_as(people[who]), method)(url, _body(method, url), format="json")
    assert response.status_code == expected, getattr(response, "data", None)


def test_lists_never_show_another_users_private_image(api_as, client_as, bob, things):
    private_id = things["private"].pk
    for scope in ("mine", "public"):
        ids = [image["id"] for image in api_as(bob).get(f"/api/images/?scope={scope}").data["results"]]
        assert private_id not in ids
    assert f"/images/{private_id}/" not in client_as(bob).get("/explore/").content.decode()
    assert api_as(bob).get("/api/jobs/").data["results"] == []
