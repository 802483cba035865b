"""The optional TOTP second factor: turning it on, signing in with it, and its secret sealed."""

from __future__ import annotations

import re
import uuid

import pyotp
from sqlalchemy import text

from backoffice.extensions import db
from tests.conftest import csrf_token, login

PASSWORD = "a long enough passphrase 42"


def _new_user(app) -> str:
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"totp-{uuid.uuid4().hex[:8]}"
        sm.add_user(
            username=name,
            first_name="T",
            last_name="U",
            email=f"{name}@test.invalid",
            role=sm.find_role("SocialWorker"),
            password=PASSWORD,
        )
        return name


def test_enrol_then_sign_in_needs_the_code(app):
    username = _new_user(app)
    client = app.test_client()
    login(client, username, PASSWORD)
    page = client.get("/account/second-factor/").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_token(client, "/account/second-factor/")
    client.post("/account/second-factor/", data={"code": "000000", "csrf_token": token})
    assert "totp-secret" in client.get("/account/second-factor/").get_data(as_text=True)
    token = csrf_token(client, "/account/second-factor/")
    code = pyotp.TOTP(secret).now()
    client.post("/account/second-factor/", data={"code": code, "csrf_token": token})
    assert "totp-secret" not in client.get("/account/second-factor/").get_data(as_text=True)

    with app.app_context():
        stored = db.session.execute(
            text("SELECT totp_secret FROM ab_user WHERE username = :u"), {"u": username}
        ).scalar_one()
    assert stored and secret not in stored

    fresh = app.test_client()
    response = login(fresh, username, PASSWORD)
    assert response.headers["Location"].endswith("/login/code")
    assert fresh.get("/users/userinfo/").status_code == 302  # not signed in yet
    token = csrf_token(fresh, "/login/code")
    fresh.post("/login/code", data={"code": "123456", "csrf_token": token})
    assert fresh.get("/users/userinfo/").status_code == 302
    token = csrf_token(fresh, "/login/code")
    response = fresh.post(
        "/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert response.status_code == 302
    assert fresh.get("/users/userinfo/").status_code == 200


def test_code_page_without_a_password_step_goes_back_to_login(client):
    response = client.get("/login/code")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
