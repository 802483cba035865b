"""Correcting a published alert in a real browser (issue 18.6): the alert page's link, the
correction form, the confirmation saying what will be sent, then both versions in the
history; the pages fit 390 px and 1,366 px screens and pass axe."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport
from backoffice.services import identifiers
from tests.browser.axe_support import axe, violations
from tests.browser.conftest import browser_login
from tests.integration.moderation_support import report_in, unique_phone

pytestmark = pytest.mark.browser


def _fits(page) -> bool:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return scroll <= inner


def test_a_moderator_corrects_a_wrong_digit_and_sees_both_versions(app, page):
    wrong, right = unique_phone(), unique_phone()
    with app.app_context():
        report = report_in(
            "published", aggressor={"identifiers": [{"kind": "phone", "value": wrong}]}
        )
        reference = db.session.scalar(
            select(Alert.reference).join(AlertReport).where(AlertReport.report_id == report.id)
        )
        db.session.remove()
    shown_wrong = identifiers.display("phone", identifiers.normalise("phone", wrong))
    shown_right = identifiers.display("phone", identifiers.normalise("phone", right))
    browser_login(page, "demo-moderator")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/alerts/show/{reference}")
    with page.expect_navigation():
        page.click("#correct-link")
    assert _fits(page)
    checker = axe()
    assert not violations(checker, page, "correct")
    page.uncheck("input[name=keep_identifiers] >> nth=0")
    page.fill("input[name=extra_value_0]", right)
    page.fill("#reason", "Un chiffre faux dans le numéro")
    with page.expect_navigation():
        page.click("#correction-submit")
    consequences = page.locator("#confirm-consequences li")
    assert consequences.count() == 3
    assert "SMS" in consequences.first.inner_text()
    assert right not in page.url and wrong not in page.url
    with page.expect_navigation():
        page.click("#confirm-action")
    assert "#history" in page.url or f"/alerts/show/{reference}" in page.url
    rows = page.locator("#history tbody tr")
    assert rows.count() == 2
    assert shown_right in rows.nth(0).inner_text()
    assert shown_wrong in rows.nth(1).inner_text()
    assert "Un chiffre faux" in rows.nth(0).inner_text()
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 800})
        assert _fits(page), width
    page.set_viewport_size({"width": 390, "height": 800})
    page.screenshot(path="/tmp/versions_history_390.png", full_page=True)
    assert not violations(checker, page, "history")
