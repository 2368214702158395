"""Sign up, sign in, sign out; roles; the demo account."""

import pytest

from accounts.forms import TAKEN
from accounts.models import User
from accounts.services import user_create, user_ensure_demo


def test_signup_creates_a_user_and_signs_them_in(client_as, db):
    client = client_as(None)
    response = client.post(
        "/accounts/signup/",
        {
            "username": "dana",
            "name": "Dana",
            "email": "dana@example.com",
            "password1": "a long enough passphrase 42",
            "password2": "a long enough passphrase 42",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="dana")
    assert (user.name, user.email, user.role, user.is_staff) == ("Dana", "dana@example.com", "user", False)
    assert client.get("/images/").status_code == 200  # signed in


def test_signup_refuses_a_taken_email_and_a_weak_password(client_as, alice):
    response = client_as(None).post(
        "/accounts/signup/",
        {
            "username": "eve",
            "email": "ALICE@example.com",
            "password1": "123",
            "password2": "123",
        },
    )
    errors = response.context["form"].errors
    assert "password2" in errors
    # the taken email gets the neutral answer, which names neither field (no account enumeration)
    assert errors["__all__"] == [TAKEN] and "email" not in errors
    assert not User.objects.filter(username="eve").exists()


def test_signup_gives_the_same_answer_for_a_taken_username_as_for_a_taken_email(client_as, alice):
    form = {"password1": "a long enough passphrase 42", "password2": "a long enough passphrase 42"}
    by_name = client_as(None).post("/accounts/signup/", {"username": "ALICE", **form}).context["form"].errors
    by_email = (
        client_as(None)
        .post("/accounts/signup/", {"username": "fresh", "email": "alice@example.com", **form})
        .context["form"]
        .errors
    )
    assert by_name == by_email == {"__all__": [TAKEN]}


def test_login_and_logout(client_as, alice):
    client = client_as(None)
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 302 and client.get("/images/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/images/").status_code == 302


def test_admin_role_grants_the_django_admin(db):
    admin = user_create(username="root", password="x" * 12, role=User.Role.ADMIN)
    assert admin.is_staff and not admin.is_superuser
    with pytest.raises(ValueError):
        user_create(username="odd", password="x" * 12, role="wizard")


def test_demo_account_is_created_once_and_its_password_reset(db):
    user, created = user_ensure_demo(username="demo", password="one")
    again, created_again = user_ensure_demo(username="demo", password="two")
    assert created and not created_again and again.pk == user.pk
    again.refresh_from_db()
    assert again.check_password("two")


def test_restarting_with_the_same_demo_password_keeps_the_demo_keys(db):
    from accounts.services import api_key_create

    user, _ = user_ensure_demo(username="demo", password="one")
    key, _ = api_key_create(user=user, name="script")
    user_ensure_demo(username="demo", password="one")
    key.refresh_from_db()
    assert key.revoked_at is None
