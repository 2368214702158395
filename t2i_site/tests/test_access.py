"""Every route x owner (alice) / other user (bob) / staff (stella) / anonymous.

Private images and every job are 404 to anyone but the owner, staff included (staff use the admin);
anonymous users are sent to sign in on pages, get 401 from the API, and see only public things.
"""

import re

import pytest

from compat.tests.test_access import ROUTES as compat_routes
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory, PublicImageFactory

WHO = ("owner", "other", "staff", "anon")


@pytest.fixture
def people(alice, bob, staff):
    return {"owner": alice, "other": bob, "staff": staff, "anon": None}


@pytest.fixture
def things(alice, model_version):
    from accounts.services import api_key_create
    from modelops.models import ArenaMatch

    return {
        "job": GenerationJobFactory(user=alice),
        "private": GeneratedImageFactory(user=alice, with_attention=True),
        "public": PublicImageFactory(user=alice, with_attention=True),
        "key": api_key_create(user=alice, name="script")[0],
        "match": ArenaMatch.objects.create(
            user=alice,
            champion=model_version,
            challenger=model_version,
            prompt="a red circle",
            seed=1,
            steps=1,
            champion_on_left=True,
        ),
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
    ("post", "/images/{id}/vary/", "private", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/images/{id}/vary/", "public", {"owner": 302, "other": 302, "staff": 302, "anon": LOGIN}),
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
    ("post", "/accounts/logout/", None, {"owner": 302, "other": 302, "staff": 302, "anon": 302}),
    ("get", "/accounts/", None, {"owner": 200, "other": 200, "staff": 200, "anon": LOGIN}),
    ("get", "/accounts/password/", None, {"owner": 200, "other": 200, "staff": 200, "anon": LOGIN}),
    ("post", "/accounts/keys/{id}/revoke/", "key", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("get", "/arena/", None, {"owner": 200, "other": 200, "staff": 200, "anon": LOGIN}),
    # alice has an open match (back to it); the others have none and no challenger to start one with
    ("post", "/arena/start/", None, {"owner": 302, "other": 200, "staff": 200, "anon": LOGIN}),
    ("get", "/arena/{id}/", "match", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),  # named once voted
    ("get", "/arena/{id}/state/", "match", {"owner": 200, "other": 404, "staff": 404, "anon": LOGIN}),
    ("post", "/arena/{id}/vote/", "match", {"owner": 302, "other": 404, "staff": 404, "anon": LOGIN}),
    ("get", "/arena/{id}/{side}.png", "match", {"owner": 404, "other": 404, "staff": 404, "anon": LOGIN}),  # unpainted
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
    ("post", "/api/jobs/", None, {"owner": 201, "other": 201, "staff": 201, "anon": 401}),
    ("post", "/api/auth/token/", None, {"owner": 400, "other": 400, "staff": 400, "anon": 400}),  # no password sent
]

# Routes whose matrix lives in another module: modelops' staff-only routes (modelops/tests/test_access.py) and the
# OpenAI and AUTOMATIC1111 client APIs (compat/tests/test_access.py).
ELSEWHERE = compat_routes | {
    "/modelops/",
    "/modelops/versions/{id}/promote/",
    "/modelops/versions/{id}/evaluate/",
    "/modelops/rollback/",
    "/modelops/sync/",
    "/modelops/register/",
    "/api/models/{id}/promote/",
    "/api/models/{id}/evaluate/",
    "/api/models/rollback/",
    "/api/models/changes/",
}

BODIES = {
    "/visibility/": {"visibility": "public"},
    "/feedback/": {"rating": 5, "comment": "nice"},
    "/vote/": {"choice": "left"},
    "/api/jobs/": {"prompt": "a red circle", "steps": 1},
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
    url = url.format(id=things[thing].pk, side="a") if thing else url
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


def _template(route: str) -> str:
    """A route's parameters as the cases write them: integers are {id}, anything else keeps its name."""
    route = re.sub(r"<int:\w+>", "{id}", route)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _routes(patterns, prefix=""):
    """Every route of the URL conf as a template ("/images/{id}/"), the admin's own pages aside."""
    from django.urls import URLPattern, URLResolver

    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route != "admin/":
                yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + _template(route)


def test_every_route_of_the_url_conf_has_its_access_cases():
    """A new route fails here until its owner / other / staff / anonymous expectations are written down."""
    from django.urls import get_resolver

    covered = {url.split("?")[0] for _, url, _, _ in PAGE_CASES + API_CASES} | ELSEWHERE | {"/admin/"}
    routes = set(_routes(get_resolver().url_patterns))
    assert routes - covered == set()


# WebSockets: the job's own socket is the owner's only; the all-jobs socket carries each user's own jobs
WS_CASES = [
    ("/ws/jobs/{id}/", "job", {"owner": "open", "other": 4404, "staff": 4404, "anon": 4401}),
    ("/ws/jobs/", None, {"owner": "open", "other": "open", "staff": "open", "anon": 4401}),
    ("/ws/arena/{id}/", "match", {"owner": "open", "other": 4404, "staff": 4404, "anon": 4401}),
]


def test_every_websocket_route_has_its_access_cases():
    from t2i_site.routing import websocket_urlpatterns

    routes = {"/" + _template(str(p.pattern)) for p in websocket_urlpatterns}
    assert routes == {url for url, _, _ in WS_CASES}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("url", "thing", "who", "expected"),
    [pytest.param(u, t, who, exp[who], id=f"{u} {who}") for u, t, exp in WS_CASES for who in WHO],
)
async def test_websocket_access(client_as, people, things, url, thing, who, expected):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from t2i_site.asgi import application

    def headers():
        if people[who] is None:
            return [(b"origin", b"http://localhost")]
        session = client_as(people[who]).cookies["sessionid"].value
        return [(b"cookie", f"sessionid={session}".encode()), (b"origin", b"http://localhost")]

    url = url.format(id=things[thing].pk) if thing else url
    communicator = WebsocketCommunicator(application, url, headers=await database_sync_to_async(headers)())
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    if expected == "open":  # it may send the job's current state first; it must not close
        if not await communicator.receive_nothing(timeout=0.5):
            assert (await communicator.receive_output(timeout=1))["type"] == "websocket.send"
        await communicator.disconnect()
    else:
        message = await communicator.receive_output(timeout=5)
        assert message["type"] == "websocket.close" and message["code"] == expected
