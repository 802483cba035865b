"""An invited person's first visit in a real browser, on a phone (390 px) and a laptop
(1,366 px): the link's page, her password, then the enrolment with its QR code visible; no
sideways scroll, no axe-core violation of WCAG 2.1 A/AA."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pyotp
import pytest

from backoffice.extensions import db
from backoffice.services import invitations
from tests.browser.axe_support import axe, violations
from tests.browser.conftest import browser_login

pytestmark = pytest.mark.browser
PASSWORD = "copper meadow falcon 61 ribbon"


def _invited(app) -> str:
    """A new account as the user form makes it, and its link (path and query)."""
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"inv-{uuid.uuid4().hex[:8]}"
        user = sm.add_user(
            username=name,
            first_name="Inès",
            last_name="Invitée",
            email=f"{name}@test.invalid",
            role=sm.find_role("Outreach"),
            password="unused-" + uuid.uuid4().hex,
        )
        invitations.prepare_new_account(user)
        _, token = invitations.issue(user, None)
        db.session.commit()
        parts = urlsplit(invitations.link_for(token))
        return f"{parts.path}?{parts.query}"


def _fits(page) -> None:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url} is {scroll}px wide for {inner}px"


@pytest.mark.parametrize("width", [390, 1366])
def test_the_invitation_and_enrolment_pages_on_a_phone_and_a_laptop(app, page, width, tmp_path):
    checker = axe()
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/lang/fr")
    page.goto(_invited(app))
    assert page.url.endswith("/invitation/")  # the token left the address bar
    assert page.locator("h1").inner_text() == "Bienvenue sur le back-office Jasmine"
    _fits(page)
    assert violations(checker, page, "/invitation/") == []
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=conf_password]", PASSWORD)
    with page.expect_navigation():
        page.click("[type=submit]")
    assert page.url.endswith("/login/enrol")
    qr = page.locator(".second-factor-qr svg")
    box = qr.bounding_box()
    assert box and box["width"] > 100 and box["x"] + box["width"] <= width
    page.screenshot(path=str(tmp_path / f"enrol-{width}.png"), full_page=True)
    _fits(page)
    assert violations(checker, page, "/login/enrol") == []
    secret = page.locator("#totp-secret").inner_text()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10


def test_a_used_link_says_so_in_french(app, page):
    link = _invited(app)
    page.goto("/lang/fr")
    page.goto(link)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=conf_password]", PASSWORD)
    with page.expect_navigation():
        page.click("[type=submit]")
    page.goto("/lang/fr")  # the sign-in that followed began a new session
    again = page.goto(link)
    assert again.status == 410
    assert "déjà été utilisé" in page.locator(".alert").inner_text()
    _fits(page)


def test_a_roles_page_in_words_fits_a_phone_and_passes_axe(app, page):
    browser_login(page, "demo-admin")
    page.goto("/lang/fr")
    with app.app_context():
        moderator = app.appbuilder.sm.find_role("Moderator").id
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/roles/show/{moderator}")
    assert "Relire les signalements et publier les alertes" in page.content()
    _fits(page)
    assert violations(axe(), page, "/roles/show") == []
