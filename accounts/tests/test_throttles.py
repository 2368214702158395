"""Guessing passwords is throttled per address and per username, on the token endpoint and the sign-in form;
sign-ups per address. Over the limit: 429 with Retry-After."""

from rest_framework.test import APIClient


def test_forty_bad_guesses_at_the_token_endpoint_get_429s(alice, settings):
    client = APIClient()
    statuses = [
        client.post("/api/auth/token/", {"username": "alice", "password": f"guess {n}"}, format="json").status_code
        for n in range(40)
    ]
    assert statuses[0] == 401  # a wrong password
    assert statuses.count(429) >= 30  # the per-username limit (10/h by default) stops the rest
    refused = client.post("/api/auth/token/", {"username": "alice", "password": "x"}, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_guesses_spread_over_usernames_are_stopped_per_address(alice, bob):
    client = APIClient()
    statuses = [
        client.post("/api/auth/token/", {"username": f"user{n}", "password": "x"}, format="json").status_code
        for n in range(40)
    ]
    assert 429 in statuses and statuses.index(429) <= 30  # 30/h per address


def test_the_sign_in_form_is_throttled_per_username(alice, client_as):
    client = client_as(None)
    statuses = [
        client.post("/accounts/login/", {"username": "alice", "password": f"guess {n}"}).status_code for n in range(12)
    ]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429]
    refused = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()


def test_sign_ups_are_throttled_per_address(db, client_as):
    client = client_as(None)
    statuses = [
        client.post(
            "/accounts/signup/", {"username": f"new{n}", "password1": "short", "password2": "short"}
        ).status_code
        for n in range(11)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200
