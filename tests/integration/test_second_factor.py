"""The TOTP second factor: mandatory enrolment, codes accepted once, recovery codes, the
enrolment secret kept on the server, wrong codes delayed, "login" audited after the code."""

from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest
from sqlalchemy import select, text

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from tests.conftest import csrf_token, login, make_app

PASSWORD = "a long enough passphrase 42"
REQUIRED = ("Admin", "Moderator", "SocialWorker", "DataProtection")


@pytest.fixture(scope="module")
def strict_app(app, database_url, test_keyring, tmp_path_factory):
    """The shared database, with the second factor mandatory as it is by default."""
    return make_app(
        database_url,
        test_keyring,
        tmp_path_factory.mktemp("strict"),
        SECOND_FACTOR_REQUIRED_ROLES=REQUIRED,
    )


def test_the_default_setting_makes_it_mandatory_for_roles_that_read_confidential_data():
    from config import build_config

    assert build_config()["SECOND_FACTOR_REQUIRED_ROLES"] == REQUIRED


def _new_user(app, role: str = "SocialWorker") -> str:
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"totp-{uuid.uuid4().hex[:8]}"
        sm.add_user(
            username=name,
            first_name="T",
            last_name="U",
            email=f"{name}@test.invalid",
            role=sm.find_role(role),
            password=PASSWORD,
        )
        return name


def _logins(app, username: str) -> list[AuditEvent]:
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        return list(
            db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "login", AuditEvent.object_id == str(user.id)
                )
            )
        )


def _post_code(client, url: str, code: str):
    return client.post(url, data={"code": code, "csrf_token": csrf_token(client, url)})


def _enrol(app, username: str):
    """Sign in with the password, enrol; answers (client, secret, recovery codes)."""
    client = app.test_client()
    response = login(client, username, PASSWORD)
    assert response.headers["Location"].endswith("/login/enrol")
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    page = _post_code(client, "/login/enrol", pyotp.TOTP(secret).now()).get_data(as_text=True)
    codes = re.findall(r"<li>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</li>", page)
    return client, secret, codes


def test_a_social_worker_must_enrol_before_anything_else(strict_app):
    username = _new_user(strict_app)
    client = strict_app.test_client()
    response = login(client, username, PASSWORD)
    assert response.headers["Location"].endswith("/login/enrol")
    for url in ("/users/userinfo/", "/account/sessions/", "/account/second-factor/"):
        assert client.get(url).status_code == 302, url  # not signed in: back to the login
    assert not _logins(strict_app, username)  # the password alone is not a sign-in
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page and "otpauth://" in page  # the QR code, drawn here
    assert "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)

    # The secret being enrolled is on the server, sealed, and not in the cookie.
    cookie = client.get_cookie("backoffice_session").value
    serializer = strict_app.session_interface.get_signing_serializer(strict_app)
    assert secret not in str(serializer.loads(cookie))
    with strict_app.app_context():
        pending = db.session.execute(
            text("SELECT totp_pending_secret FROM ab_user WHERE username = :u"), {"u": username}
        ).scalar_one()
    assert pending and secret not in pending

    _post_code(client, "/login/enrol", "000000")
    assert client.get("/users/userinfo/").status_code == 302
    page = _post_code(client, "/login/enrol", pyotp.TOTP(secret).now()).get_data(as_text=True)
    codes = re.findall(r"<li>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</li>", page)
    assert len(set(codes)) == 10
    assert client.get("/users/userinfo/").status_code == 200
    assert len(_logins(strict_app, username)) == 1
    with strict_app.app_context():
        row = db.session.execute(
            text("SELECT totp_secret, totp_pending_secret FROM ab_user WHERE username = :u"),
            {"u": username},
        ).one()
        stored_codes = db.session.execute(text("SELECT code_hash FROM recovery_codes")).scalars()
        stored = " ".join(stored_codes)
    assert row[0] and secret not in row[0] and row[1] is None
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)
    # Shown once: the settings page tells how many are left, never the codes.
    settings = client.get("/account/second-factor/").get_data(as_text=True)
    assert "Recovery codes left: 10" in settings and codes[0] not in settings


def test_a_code_is_accepted_once(strict_app):
    username = _new_user(strict_app, "Moderator")
    _client, secret, _codes = _enrol(strict_app, username)
    used = pyotp.TOTP(secret).now()  # the code the enrolment accepted
    thief = strict_app.test_client()
    assert login(thief, username, PASSWORD).headers["Location"].endswith("/login/code")
    assert len(_logins(strict_app, username)) == 1  # the enrolment's; the password alone: none
    _post_code(thief, "/login/code", used)
    assert thief.get("/users/userinfo/").status_code == 302  # replayed: refused
    next_step = pyotp.TOTP(secret).at(time.time() + 30)  # a later step (clock drift allowed)
    assert _post_code(thief, "/login/code", next_step).status_code == 302
    assert thief.get("/users/userinfo/").status_code == 200
    again = strict_app.test_client()
    login(again, username, PASSWORD)
    _post_code(again, "/login/code", next_step)
    assert again.get("/users/userinfo/").status_code == 302


def test_a_recovery_code_works_once_and_new_ones_replace_the_old(strict_app):
    username = _new_user(strict_app, "Admin")
    client, secret, codes = _enrol(strict_app, username)
    for expected in (200, 302):
        other = strict_app.test_client()
        login(other, username, PASSWORD)
        _post_code(other, "/login/code", codes[0].lower())
        page = other.get("/users/userinfo/")
        assert page.status_code == expected
    other = strict_app.test_client()
    login(other, username, PASSWORD)
    _post_code(other, "/login/code", codes[2])
    assert "recovery code: 8 are left" in other.get("/users/userinfo/").get_data(as_text=True)
    token = csrf_token(client, "/account/second-factor/")
    page = client.post(
        "/account/second-factor/",
        data={
            "code": pyotp.TOTP(secret).at(time.time() + 30),
            "action": "regenerate",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    fresh = re.findall(r"<li>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</li>", page)
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    other = strict_app.test_client()
    login(other, username, PASSWORD)
    _post_code(other, "/login/code", codes[1])
    assert other.get("/users/userinfo/").status_code == 302  # an old code: gone
    _post_code(other, "/login/code", fresh[0])
    assert other.get("/users/userinfo/").status_code == 200


def test_wrong_codes_count_toward_the_sign_in_delay(strict_app):
    username = _new_user(strict_app)
    _client, secret, _codes = _enrol(strict_app, username)
    client = strict_app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    login(client, username, PASSWORD)
    for _ in range(4):
        _post_code(client, "/login/code", "000000")
    page = _post_code(client, "/login/code", pyotp.TOTP(secret).at(time.time() + 30))
    assert "Too many failed attempts" in page.get_data(as_text=True)
    assert client.get("/users/userinfo/").status_code == 302


def test_a_mandatory_factor_cannot_be_turned_off(strict_app):
    username = _new_user(strict_app)
    client, secret, _codes = _enrol(strict_app, username)
    token = csrf_token(client, "/account/second-factor/")
    client.post(
        "/account/second-factor/",
        data={
            "code": pyotp.TOTP(secret).at(time.time() + 30),
            "action": "disable",
            "csrf_token": token,
        },
    )
    with strict_app.app_context():
        stored = db.session.execute(
            text("SELECT totp_secret FROM ab_user WHERE username = :u"), {"u": username}
        ).scalar_one()
    assert stored


def test_a_coordinator_may_turn_it_on_from_the_settings_page(strict_app):
    username = _new_user(strict_app, "Coordinator")
    client = strict_app.test_client()
    response = login(client, username, PASSWORD)
    assert "/login" not in response.headers["Location"]  # not mandatory for this role
    token = csrf_token(client, "/account/second-factor/")
    assert "totp-secret" not in client.get("/account/second-factor/").get_data(as_text=True)
    client.post("/account/second-factor/start", data={"csrf_token": token})
    page = client.get("/account/second-factor/").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_token(client, "/account/second-factor/")
    page = client.post(
        "/account/second-factor/",
        data={"code": pyotp.TOTP(secret).now(), "action": "confirm", "csrf_token": token},
    ).get_data(as_text=True)
    assert "recovery-codes" in page
    fresh = strict_app.test_client()
    assert login(fresh, username, PASSWORD).headers["Location"].endswith("/login/code")


def test_code_page_without_a_password_step_goes_back_to_login(client):
    for url in ("/login/code", "/login/enrol"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_role_that_needs_it_given_after_sign_in_sends_the_user_to_enrolment(strict_app):
    username = _new_user(strict_app, "Coordinator")
    client = strict_app.test_client()
    login(client, username, PASSWORD)
    assert client.get("/users/userinfo/").status_code == 200
    with strict_app.app_context():
        sm = strict_app.appbuilder.sm
        user = sm.find_user(username=username)
        user.roles.append(sm.find_role("SocialWorker"))
        db.session.commit()
    assert client.get("/users/userinfo/").status_code == 302
    assert login(client, username, PASSWORD).headers["Location"].endswith("/login/enrol")


def test_after_a_reset_the_user_enrols_again_and_old_codes_are_gone(strict_app):
    from backoffice.services import second_factor

    username = _new_user(strict_app)
    _client, secret, codes = _enrol(strict_app, username)
    with strict_app.app_context():
        second_factor.reset(strict_app.appbuilder.sm.find_user(username=username))
        db.session.commit()
    client = strict_app.test_client()
    assert login(client, username, PASSWORD).headers["Location"].endswith("/login/enrol")
    _post_code(client, "/login/enrol", codes[0])
    _post_code(client, "/login/enrol", pyotp.TOTP(secret).at(time.time() + 30))
    assert client.get("/users/userinfo/").status_code == 302  # a new secret, new codes
