"""Signing in, lock-out, sessions that end on the server, passwords, CSRF, headers, errors."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from tests.conftest import csrf_token, login

PASSWORD = "a long enough passphrase 42"


@pytest.fixture
def fresh_user(app):
    """A dedicated Moderator, so lock-outs never touch the shared demo users."""
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"user-{uuid.uuid4().hex[:8]}"
        user = sm.add_user(
            username=name,
            first_name="Test",
            last_name="User",
            email=f"{name}@test.invalid",
            role=sm.find_role("Moderator"),
            password=PASSWORD,
        )
        return user.username


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_login_succeeds_and_is_audited(app, client, fresh_user):
    response = login(client, fresh_user, PASSWORD)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    assert client.get("/users/userinfo/").status_code == 200
    assert any(e.actor_name == fresh_user for e in _events(app, "login"))


def test_wrong_password_is_refused_generically(app, client, fresh_user):
    response = login(client, fresh_user, "wrong password here")
    assert "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invalid login" in page or "Identifiant" in page or "invalide" in page.lower()
    assert client.get("/users/userinfo/").status_code == 302


def test_lock_out_after_repeated_failures_then_admin_unlocks(app, client, fresh_user):
    threshold = app.config["LOGIN_LOCKOUT_THRESHOLD"]
    for _ in range(threshold):
        login(client, fresh_user, "wrong password here")
    # Even the right password is refused while locked.
    response = login(client, fresh_user, PASSWORD)
    assert "/login" in response.headers["Location"]
    assert _events(app, "account_locked")
    with app.app_context():
        from backoffice.security import unlock

        user = app.appbuilder.sm.find_user(username=fresh_user)
        unlock(user)
        db.session.commit()
    response = login(client, fresh_user, PASSWORD)
    assert "/login" not in response.headers["Location"]


def test_logout_ends_the_session_on_the_server(app, fresh_user):
    client = app.test_client()
    login(client, fresh_user, PASSWORD)
    stolen_cookie = client.get_cookie("backoffice_session").value
    assert client.get("/logout/").status_code == 405  # a link from anywhere cannot sign out
    assert replay_is_signed_in(app, stolen_cookie)
    client.post("/logout/", data={"csrf_token": csrf_token(client, "/users/userinfo/")})
    assert not replay_is_signed_in(app, stolen_cookie)


def replay_is_signed_in(app, cookie: str) -> bool:
    replay = app.test_client()
    replay.set_cookie("backoffice_session", cookie)
    return replay.get("/users/userinfo/").status_code == 200


def test_logout_without_csrf_token_is_refused(app, fresh_user):
    client = app.test_client()
    login(client, fresh_user, PASSWORD)
    assert client.post("/logout/").status_code == 400
    assert client.get("/users/userinfo/").status_code == 200


def test_deactivation_ends_sessions(app, fresh_user):
    client = app.test_client()
    login(client, fresh_user, PASSWORD)
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=fresh_user)
        user.active = False
        db.session.commit()
    assert client.get("/users/userinfo/").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(app, fresh_user):
    mine, other = app.test_client(), app.test_client()
    login(mine, fresh_user, PASSWORD)
    login(other, fresh_user, PASSWORD)
    token = csrf_token(mine, "/resetmypassword/form")
    new_password = "another long passphrase 43"
    response = mine.post(
        "/resetmypassword/form",
        data={"password": new_password, "conf_password": new_password, "csrf_token": token},
    )
    assert response.status_code == 302
    assert mine.get("/users/userinfo/").status_code == 200
    assert other.get("/users/userinfo/").status_code == 302


@pytest.mark.parametrize("weak", ["short", "passwordpassword", "aaaaaaaaaaaaaaa", "azertyuiop123"])
def test_weak_passwords_are_refused_with_a_message(app, fresh_user, weak):
    client = app.test_client()
    login(client, fresh_user, PASSWORD)
    token = csrf_token(client, "/resetmypassword/form")
    response = client.post(
        "/resetmypassword/form",
        data={"password": weak, "conf_password": weak, "csrf_token": token},
    )
    assert response.status_code == 200  # the form again, with the reason
    assert login(app.test_client(), fresh_user, PASSWORD).status_code == 302
    assert "/login" not in login(app.test_client(), fresh_user, PASSWORD).headers["Location"]


def test_form_post_without_csrf_token_is_refused(app, fresh_user):
    client = app.test_client()
    response = client.post("/login/", data={"username": fresh_user, "password": PASSWORD})
    assert response.status_code == 400
    assert (
        "csrf" not in response.get_data(as_text=True).lower()
        or "expired" in response.get_data(as_text=True).lower()
        or "expiré" in response.get_data(as_text=True).lower()
    )


def test_self_registration_is_off(client):
    assert client.get("/register/form").status_code == 404


def test_security_headers_and_cookie_flags(app, fresh_user):
    client = app.test_client()
    response = login(client, fresh_user, PASSWORD)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/users/userinfo/")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


def test_not_found_page_is_generic_and_in_french(client):
    client.get("/lang/fr")
    response = client.get("/no/such/page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Traceback" not in body and "existe pas" in body


def test_server_error_page_leaks_nothing(app, database_url, test_keyring, tmp_path):
    from tests.conftest import make_app

    failing = make_app(database_url, test_keyring, tmp_path, TESTING=False)

    @failing.route("/boom")
    def boom():
        raise RuntimeError("secret detail: 07 98 76 54 32")

    response = failing.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret detail" not in body and "Traceback" not in body and "RuntimeError" not in body


def test_outside_redirect_after_login_is_refused(app, fresh_user):
    client = app.test_client()
    token = csrf_token(client, "/login/")
    response = client.post(
        "/login/?next=https://evil.example/",
        data={"username": fresh_user, "password": PASSWORD, "csrf_token": token},
        headers={"Host": "evil.example"},
    )
    assert "evil.example" not in response.headers.get("Location", "")


def test_a_refused_redirect_is_logged_but_a_plain_sign_in_is_not(app, fresh_user, caplog):
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_appbuilder.utils.base"):
        login(client, fresh_user, PASSWORD)
    assert "Invalid redirect" not in caplog.text
    other = app.test_client()
    token = csrf_token(other, "/login/")
    with caplog.at_level(logging.WARNING, logger="flask_appbuilder.utils.base"):
        other.post(
            "/login/?next=https://evil.example/",
            data={"username": fresh_user, "password": PASSWORD, "csrf_token": token},
        )
    assert "Invalid redirect" in caplog.text


def test_language_switch(client):
    client.get("/lang/fr")
    assert "existe pas" in client.get("/no/such/page").get_data(as_text=True)
    client.get("/lang/en")
    assert "does not exist" in client.get("/no/such/page").get_data(as_text=True)


def test_french_is_the_default_language(database_url, test_keyring, tmp_path):
    from tests.conftest import make_app

    french = make_app(database_url, test_keyring, tmp_path, BABEL_DEFAULT_LOCALE="fr")
    body = french.test_client().get("/no/such/page").get_data(as_text=True)
    assert "existe pas" in body


def test_expired_form_of_a_signed_in_user_gets_a_clear_page(app, fresh_user):
    client = app.test_client()
    login(client, fresh_user, PASSWORD)
    client.get("/lang/fr")
    response = client.post("/resetmypassword/form", data={"password": "x", "conf_password": "x"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "formulaire a expiré" in body
