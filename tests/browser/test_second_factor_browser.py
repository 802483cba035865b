"""A social worker's first sign-in in a real browser: password, then the mandatory
enrolment (the QR code drawn by the server, shown under the page's CSP), then the code."""

from __future__ import annotations

import threading
import uuid

import pyotp
import pytest

from tests.conftest import make_app

pytestmark = pytest.mark.browser
PASSWORD = "a long enough passphrase 42"


@pytest.fixture(scope="module")
def strict_server(app, database_url, test_keyring, tmp_path_factory):
    """The shared database served with the second factor mandatory (the default)."""
    from werkzeug.serving import make_server

    strict = make_app(
        database_url,
        test_keyring,
        tmp_path_factory.mktemp("strict_browser"),
        SECOND_FACTOR_REQUIRED_ROLES=("Admin", "Moderator", "SocialWorker", "DataProtection"),
    )
    server = make_server("127.0.0.1", 0, strict, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="strict-server", daemon=True)
    thread.start()
    try:
        yield strict, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_first_sign_in_enrols_with_the_qr_code(strict_server, browser):
    strict, base_url = strict_server
    username = f"sw-{uuid.uuid4().hex[:8]}"
    with strict.app_context():
        sm = strict.appbuilder.sm
        sm.add_user(
            username=username,
            first_name="S",
            last_name="W",
            email=f"{username}@test.invalid",
            role=sm.find_role("SocialWorker"),
            password=PASSWORD,
        )
    context = browser.new_context(base_url=base_url, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("[type=submit]")
        assert page.url.endswith("/login/enrol")
        box = page.locator(".second-factor-qr svg").bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100
        secret = page.locator("#totp-secret").inner_text()
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.click("[type=submit]")
        assert page.locator("#recovery-codes li").count() == 10
        with page.expect_navigation():
            page.click("a.btn-primary")
        assert "/login" not in page.url
        # (the browser's own /favicon.ico request answers 404, as on every page)
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    finally:
        context.close()
