"""Signing in, lock-out, sessions that end on the server, passwords, CSRF, headers, errors."""

from __future__ import annotations

import datetime as dt
import logging
import re
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


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _age_failures(app, username: str, seconds: int) -> None:
    """As if the last failure of this username were ``seconds`` older (no sleeping)."""
    from backoffice.models.sign_in import LoginThrottle

    with app.app_context():
        for row in db.session.scalars(
            select(LoginThrottle).where(LoginThrottle.username == username.lower())
        ):
            row.last_failure_at -= dt.timedelta(seconds=seconds)
        db.session.commit()


def test_failures_delay_the_next_attempt_then_the_user_is_told(app, fresh_user):
    client = _from(app, "198.51.100.7")
    for _ in range(3):  # three free mistakes: no delay yet
        response = login(client, fresh_user, "wrong password here")
        assert "Too many" not in client.get(response.headers["Location"]).get_data(as_text=True)
    login(client, fresh_user, "wrong password here")  # the fourth: 2 s to wait
    response = login(client, fresh_user, PASSWORD)  # even the right one, during the wait
    assert "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Too many failed attempts: wait 2 seconds" in page
    _age_failures(app, fresh_user, 3)
    response = login(client, fresh_user, PASSWORD)
    assert "/login" not in response.headers["Location"]
    page = client.get("/users/userinfo/").get_data(as_text=True)
    assert "4 failed sign-in attempts since your last login" in page
    again = _from(app, "198.51.100.7")
    login(again, fresh_user, PASSWORD)  # told once: the count restarted at this sign-in
    assert "failed sign-in" not in again.get("/users/userinfo/").get_data(as_text=True)


def test_an_attacker_elsewhere_cannot_lock_the_user_out(app, fresh_user):
    attacker = _from(app, "203.0.113.66")
    for _ in range(12):
        login(attacker, fresh_user, "wrong password here")
    assert "Too many" in attacker.get(
        login(attacker, fresh_user, PASSWORD).headers["Location"]
    ).get_data(as_text=True)
    owner = _from(app, "192.0.2.10")
    response = login(owner, fresh_user, PASSWORD)
    assert "/login" not in response.headers["Location"]
    assert owner.get("/users/userinfo/").status_code == 200


def test_the_delay_grows_is_capped_and_the_count_expires_with_its_window(app, fresh_user):
    from backoffice.services import login_delay

    with app.test_request_context():
        assert [login_delay.delay_after(n) for n in range(1, 8)] == [0, 0, 0, 2, 4, 8, 16]
        assert login_delay.delay_after(40) == app.config["LOGIN_DELAY_MAX_SECONDS"] == 900
    client = _from(app, "198.51.100.8")
    for _ in range(6):
        login(client, fresh_user, "wrong password here")
    window = app.config["LOGIN_FAILURE_WINDOW_MINUTES"] * 60
    _age_failures(app, fresh_user, window + 1)
    with app.test_request_context():
        assert login_delay.seconds_to_wait(fresh_user, "198.51.100.8") == 0
    login(client, fresh_user, "wrong password here")  # counted from 1 again: no wait
    response = login(client, fresh_user, PASSWORD)
    assert "/login" not in response.headers["Location"]


def test_unknown_usernames_are_delayed_alike(app):
    client = _from(app, "198.51.100.9")
    for _ in range(5):
        response = login(client, "nobody-by-that-name", "wrong password here")
    assert "Too many" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_admin_resets_the_delays(app, fresh_user):
    client = _from(app, "198.51.100.10")
    for _ in range(8):
        login(client, fresh_user, "wrong password here")
    assert "/login" in login(client, fresh_user, PASSWORD).headers["Location"]
    with app.app_context():
        from backoffice.security import unlock

        unlock(app.appbuilder.sm.find_user(username=fresh_user))
        db.session.commit()
    assert _events(app, "account_unlocked")
    assert "/login" not in login(client, fresh_user, PASSWORD).headers["Location"]


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


@pytest.mark.parametrize(
    "weak",
    [
        "short",
        "passwordpassword",
        "aaaaaaaaaaaaaaa",
        "azertyuiop123",
        "P@ssw0rd1234",
        "Summer2024!!",
        "demo-jasmine-2026",
    ],
)
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


def test_a_password_made_of_the_account_s_own_name_is_refused_in_french(app, fresh_user):
    client = app.test_client()
    login(client, fresh_user, PASSWORD)
    client.get("/lang/fr")
    own = f"{fresh_user}-{fresh_user}"  # long enough, but the username twice
    token = csrf_token(client, "/resetmypassword/form")
    page = client.post(
        "/resetmypassword/form",
        data={"password": own, "conf_password": own, "csrf_token": token},
    ).get_data(as_text=True)
    assert "contient votre nom" in page
    token = csrf_token(client, "/resetmypassword/form")
    page = client.post(
        "/resetmypassword/form",
        data={"password": "Summer2024!!", "conf_password": "Summer2024!!", "csrf_token": token},
    ).get_data(as_text=True)
    assert "trop facile à deviner" in page


def test_a_cookie_replayed_from_another_browser_is_signed_out(app, fresh_user):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Firefox/140 (the user's own)"
    login(client, fresh_user, PASSWORD)
    assert client.get("/users/userinfo/").status_code == 200
    stolen = client.get_cookie("backoffice_session").value
    thief = app.test_client()
    thief.environ_base["HTTP_USER_AGENT"] = "curl/8.0 (somebody else)"
    thief.set_cookie("backoffice_session", stolen)
    assert thief.get("/users/userinfo/").status_code == 302
    assert client.get("/users/userinfo/").status_code == 200  # the owner stays signed in


def test_my_sessions_lists_and_ends_another_session(app, fresh_user):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, fresh_user, PASSWORD)
    login(phone, fresh_user, PASSWORD)
    page = laptop.get("/account/sessions/").get_data(as_text=True)
    assert page.count("End this session") == 1 and "This browser" in page
    action = re.search(r'action="(/account/sessions/\d+/end)"', page).group(1)
    token = csrf_token(laptop, "/account/sessions/")
    assert laptop.post(action, data={"csrf_token": token}).status_code == 302
    assert phone.get("/users/userinfo/").status_code == 302
    assert laptop.get("/users/userinfo/").status_code == 200
    assert _events(app, "session_ended")


def test_nobody_ends_another_user_s_session(app, fresh_user, login_as):
    victim = app.test_client()
    login(victim, fresh_user, PASSWORD)
    page = victim.get("/account/sessions/").get_data(as_text=True)
    assert "This browser" in page
    with app.app_context():
        from backoffice.models.sign_in import StaffSession

        user = app.appbuilder.sm.find_user(username=fresh_user)
        victim_session = db.session.scalar(
            select(StaffSession.id).where(StaffSession.user_id == user.id)
        )
    other = login_as("demo-coordinator")
    token = csrf_token(other, "/account/sessions/")
    answer = other.post(f"/account/sessions/{victim_session}/end", data={"csrf_token": token})
    assert answer.status_code == 404
    assert victim.get("/users/userinfo/").status_code == 200


def test_logout_ends_only_this_session(app, fresh_user):
    here, there = app.test_client(), app.test_client()
    login(here, fresh_user, PASSWORD)
    login(there, fresh_user, PASSWORD)
    here.post("/logout/", data={"csrf_token": csrf_token(here, "/users/userinfo/")})
    assert here.get("/users/userinfo/").status_code == 302
    assert there.get("/users/userinfo/").status_code == 200


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


def test_the_hourly_job_forgets_ended_sessions_and_old_counters(app, fresh_user):
    from backoffice import jobs
    from backoffice.models.sign_in import LoginThrottle, StaffSession

    here, there = app.test_client(), app.test_client()
    login(here, fresh_user, PASSWORD)
    login(there, fresh_user, PASSWORD)
    here.post("/logout/", data={"csrf_token": csrf_token(here, "/users/userinfo/")})
    login(_from(app, "198.51.100.30"), fresh_user, "wrong password here")
    _age_failures(app, fresh_user, app.config["LOGIN_FAILURE_WINDOW_MINUTES"] * 60 + 1)
    assert jobs.run_job(app, "purge_sign_in_records")
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=fresh_user)
        kept = db.session.scalars(select(StaffSession).where(StaffSession.user_id == user.id))
        counters = db.session.scalars(
            select(LoginThrottle).where(LoginThrottle.username == fresh_user)
        )
        assert [s.ended_at for s in kept] == [None] and not list(counters)
    assert there.get("/users/userinfo/").status_code == 200
