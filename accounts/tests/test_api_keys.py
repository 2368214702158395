"""API keys: several per user, named, shown once, stored as a digest, expiring, revocable, all revoked when the
password changes; `Token` and `Bearer` both carry them, over HTTP and WebSockets."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.keys import api_key_digest
from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke


def _client(raw_key: str, scheme: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw_key}")
    return client


def test_the_token_endpoint_makes_an_expiring_key_stored_only_as_its_digest(alice):
    response = APIClient().post(
        "/api/auth/token/", {"username": "alice", "password": "correct horse battery staple"}, format="json"
    )
    assert response.status_code == 200
    raw_key = response.data["token"]
    key = ApiKey.objects.get(user=alice)
    assert key.digest == api_key_digest(raw_key) and raw_key not in {key.digest, key.prefix}
    assert raw_key.startswith(key.prefix + "_")
    assert key.expires_at > timezone.now() + timedelta(days=29)
    assert _client(raw_key).get("/api/auth/me/").data["username"] == "alice"


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_both_header_schemes_authenticate(alice, scheme):
    _, raw_key = api_key_create(user=alice, name="cli")
    assert _client(raw_key, scheme).get("/api/auth/me/").status_code == 200


def test_revoked_expired_and_unknown_keys_are_401(alice):
    revoked, revoked_raw = api_key_create(user=alice, name="old")
    api_key_revoke(key=revoked)
    expiring, expiring_raw = api_key_create(user=alice, name="soon", expires_at=timezone.now() + timedelta(days=1))
    ApiKey.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for raw in (revoked_raw, expiring_raw, "t2i_deadbeef_not-a-key"):
        response = _client(raw).get("/api/auth/me/")
        assert response.status_code == 401 and "WWW-Authenticate" in response


def test_a_password_change_revokes_every_key(alice, client_as):
    _, first = api_key_create(user=alice, name="a")
    _, second = api_key_create(user=alice, name="b")
    client = client_as(alice)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "correct horse battery staple",
            "new_password1": "another long passphrase 77",
            "new_password2": "another long passphrase 77",
        },
    )
    assert response.status_code == 302
    assert _client(first).get("/api/auth/me/").status_code == 401
    assert _client(second).get("/api/auth/me/").status_code == 401
    assert client.get("/accounts/").status_code == 200  # this session stays signed in


def test_a_password_set_anywhere_else_revokes_them_too(alice):
    """The admin and `manage.py changepassword` call set_password + save: the same hook sees them."""
    _, raw_key = api_key_create(user=alice, name="a")
    alice.set_password("set by an admin 12345")
    alice.save()
    assert _client(raw_key).get("/api/auth/me/").status_code == 401


def test_the_account_page_shows_a_new_key_once_and_lists_keys_by_prefix(alice, client_as):
    client = client_as(alice)
    response = client.post("/accounts/", {"name": "Krita plug-in", "expires_on": ""})
    html = response.content.decode()
    key = ApiKey.objects.get(user=alice, name="Krita plug-in")
    raw_key = html.split('id="new-key">')[1].split("<")[0]
    assert api_key_digest(raw_key) == key.digest
    again = client.get("/accounts/").content.decode()
    assert raw_key not in again and key.prefix in again and "Krita plug-in" in again


def test_only_the_owner_can_revoke_a_key(alice, bob, client_as):
    key, raw_key = api_key_create(user=alice, name="a")
    assert client_as(bob).post(f"/accounts/keys/{key.pk}/revoke/").status_code == 404
    assert _client(raw_key).get("/api/auth/me/").status_code == 200
    assert client_as(alice).post(f"/accounts/keys/{key.pk}/revoke/").status_code == 302
    assert _client(raw_key).get("/api/auth/me/").status_code == 401


def test_an_expiry_in_the_past_is_refused(alice, client_as):
    response = client_as(alice).post("/accounts/", {"name": "x", "expires_on": "2001-01-01"})
    assert "Pick a day after today." in response.content.decode()
    assert not ApiKey.objects.filter(user=alice).exists()
