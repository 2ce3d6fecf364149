from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from civicloop.testing import PERSONA_PASSWORD

User = get_user_model()


def _with_password(user) -> None:
    user.set_password(PERSONA_PASSWORD)
    user.save()


def test_passwords_are_hashed_with_argon2(personas) -> None:
    _with_password(personas.lead)
    assert personas.lead.password.startswith("argon2$argon2id$")


def test_sign_in_with_email_lands_on_my_teams(personas, client) -> None:
    _with_password(personas.lead)
    response = client.post(
        "/accounts/login/",
        {"username": "LEAD@example.org", "password": PERSONA_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/teams/"
    assert "Team Clean" in response.content.decode()


def test_wrong_password_says_so_without_saying_which_part(personas, client) -> None:
    _with_password(personas.lead)
    response = client.post(
        "/accounts/login/", {"username": "lead@example.org", "password": "wrong"}
    )
    assert response.status_code == 200
    assert "do not match an active account" in response.content.decode()


def test_sign_in_returns_to_the_page_asked_for(personas, client) -> None:
    _with_password(personas.viewer)
    response = client.get("/teams/team-clean/")
    assert response["Location"] == "/accounts/login/?next=/teams/team-clean/"
    response = client.post(
        response["Location"],
        {
            "username": "viewer@example.org",
            "password": PERSONA_PASSWORD,
            "next": "/teams/team-clean/",
        },
    )
    assert response["Location"] == "/teams/team-clean/"


def test_sign_in_refuses_to_redirect_off_site(personas, client) -> None:
    _with_password(personas.viewer)
    response = client.post(
        "/accounts/login/",
        {
            "username": "viewer@example.org",
            "password": PERSONA_PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/teams/"


def test_sign_out_needs_a_post_and_ends_the_session(personas, client_as) -> None:
    client = client_as("viewer")
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/teams/").status_code == 302


def test_forms_without_csrf_token_are_refused(personas) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.lead)
    response = client.post("/teams/team-clean/edit/", {"purpose": "No token"})
    assert response.status_code == 403
    personas.team.refresh_from_db()
    assert personas.team.purpose == "Cleaner streets."


def test_password_reset_by_email_end_to_end(personas, client) -> None:
    _with_password(personas.viewer)  # Django sends no reset to accounts disabled on purpose
    response = client.post("/accounts/password-reset/", {"email": "viewer@example.org"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Vera Viewer" in body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", body)
    assert link, body
    form_page = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    new_password = "a much longer new password 7"
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert response["Location"] == "/accounts/reset/done/"
    personas.viewer.refresh_from_db()
    assert personas.viewer.check_password(new_password)
    # The link works once.
    again = client.get(link.group(1), follow=True)
    assert "no longer works" in again.content.decode()


def test_reset_for_unknown_email_reveals_nothing(personas, client) -> None:
    response = client.post("/accounts/password-reset/", {"email": "stranger@example.org"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_weak_new_password_is_refused_with_reasons(personas, client_as) -> None:
    _with_password(personas.viewer)
    client = client_as("viewer")
    response = client.post(
        "/accounts/password-change/",
        {"old_password": PERSONA_PASSWORD, "new_password1": "12345", "new_password2": "12345"},
    )
    page = response.content.decode()
    assert "This password is too short" in page
    assert "entirely numeric" in page
    personas.viewer.refresh_from_db()
    assert personas.viewer.check_password(PERSONA_PASSWORD)
