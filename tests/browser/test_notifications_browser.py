"""« Mes notifications » in a real browser: the unread count in the navigation, the list, the
settings form, on a phone (390 px) and a laptop (1,366 px), without sideways scroll and
without an axe-core violation (WCAG 2.1 A and AA)."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.extensions import db
from backoffice.services import intake
from tests.browser.axe_support import WIDE_ELEMENTS, axe, violations
from tests.browser.conftest import browser_login
from tests.integration.moderation_support import newcomer_moderator, payload, retire

pytestmark = pytest.mark.browser


@pytest.fixture
def newcomer(app):
    """A moderator of this test's own: her list holds only its notice, and her settings
    changes touch no one else."""
    with app.app_context():
        name = newcomer_moderator()
    yield name
    with app.app_context():
        retire(name)


def test_a_moderator_sees_her_notice_and_sets_her_quiet_hours(app, page, newcomer):
    with app.app_context():
        body = payload(incident={"violence_types": ["rape"], "date": dt.date.today().isoformat()})
        reference = intake.submit_report(body).reference
        db.session.commit()
    browser_login(page, newcomer)
    checker = axe()
    problems = {}
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        for url in ("/account/notifications/", "/account/notifications/settings"):
            page.goto(url)
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            if scroll > inner:
                problems[f"{url} at {width}"] = page.evaluate(WIDE_ELEMENTS)
            found = violations(checker, page, url)
            if found:
                problems[f"{url} at {width} (axe)"] = found
    assert problems == {}
    page.goto("/account/notifications/")
    assert page.locator("#unread-notices").count() == 1
    assert reference in page.locator("#notices").inner_text()
    page.goto("/account/notifications/settings")
    page.fill("#quiet_start", "22:00")
    page.fill("#quiet_end", "07:00")
    with page.expect_navigation():
        page.click("form [type=submit].btn-primary")
    assert page.input_value("#quiet_start") == "22:00"
