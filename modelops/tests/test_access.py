"""Every modelops route: staff only. A signed-in non-staff user gets 403; anonymous users sign in (pages) or 401."""

import pytest

ROUTES = [
    ("get", "/modelops/", "page"),
    ("post", "/modelops/versions/{id}/promote/", "page"),
    ("post", "/modelops/versions/{id}/evaluate/", "page"),
    ("post", "/modelops/rollback/", "page"),
    ("post", "/modelops/sync/", "page"),
    ("post", "/modelops/register/", "page"),
    ("post", "/api/models/{id}/promote/", "api"),
    ("post", "/api/models/{id}/evaluate/", "api"),
    ("post", "/api/models/rollback/", "api"),
    ("get", "/api/models/changes/", "api"),
]


@pytest.mark.parametrize(("method", "url", "kind"), ROUTES, ids=[f"{m} {u}" for m, u, _ in ROUTES])
def test_non_staff_get_403_on_every_modelops_route(client_as, api_as, alice, model_version, method, url, kind):
    url = url.format(id=model_version.pk)
    client = api_as(alice) if kind == "api" else client_as(alice)
    response = getattr(client, method)(url, {"reason": "me"}, **({"format": "json"} if kind == "api" else {}))
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "kind"), ROUTES, ids=[f"{m} {u}" for m, u, _ in ROUTES])
def test_anonymous_visitors_are_turned_away_from_every_modelops_route(
    client_as, api_as, model_version, method, url, kind
):
    url = url.format(id=model_version.pk)
    response = getattr(api_as(None) if kind == "api" else client_as(None), method)(url, {})
    if kind == "api":
        assert response.status_code == 401
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_nothing_changed_after_a_refused_non_staff_promotion(api_as, alice, model_version):
    from modelops.models import ModelChange

    api_as(alice).post(f"/api/models/{model_version.pk}/promote/", {"force": True, "reason": "x"}, format="json")
    assert not ModelChange.objects.exists()
