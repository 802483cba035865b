"""Issue 18, "Done when": a routed urgent case shows on a social worker's home page, in a real
browser, on a phone (390 px, no sideways scroll) and a laptop, and its link opens the case."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.services import cases
from backoffice.services.timezones import to_local
from tests.browser.axe_support import axe, violations
from tests.browser.conftest import browser_login
from tests.integration.cases_support import AIDES_WORKER, make_report, user

pytestmark = pytest.mark.browser


def test_a_routed_urgent_case_is_on_the_social_worker_s_home_page(app, page, monkeypatch):
    from backoffice.services import home

    monkeypatch.setattr(home, "LIST_LENGTH", 1000)  # other tests' cases may come first
    with app.app_context():
        # A rape three hours ago, reported and routed to AIDES: treatment within 48 hours.
        incident = to_local(utcnow() - dt.timedelta(hours=3), "93")
        report = make_report(
            violence_types=["rape"],
            date=incident.date().isoformat(),
            time=incident.strftime("%H:%M"),
        )
        case = cases.route_report(
            report.id, user(AIDES_WORKER).organisation_id, user("demo-moderator")
        )
        db.session.commit()
        reference, case_id = case.reference, case.id
        db.session.remove()

    browser_login(page, AIDES_WORKER)
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/")
        row = page.locator(f'#home-cases .home-deadlines li[data-reference="{reference}"]')
        assert row.is_visible()
        # The flag's name and the time left (about 45 h), counted from the incident.
        text = row.inner_text()
        assert "(PEP)" in text and " h " in text, text
        assert row.get_attribute("data-urgency") == "running"
        new_case = page.locator(f'#home-cases .home-new-cases li[data-reference="{reference}"]')
        assert new_case.is_visible()
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"the home page is {scroll}px wide at {inner}px"
        if os.environ.get("HOME_SCREENSHOTS"):  # a folder to look at the page in
            folder = os.environ["HOME_SCREENSHOTS"]
            page.screenshot(path=f"{folder}/home-{width}.png", full_page=True)
        assert not violations(axe(), page, f"/ at {width} px")

    with page.expect_navigation():
        row.locator("a").first.click()
    assert page.url.endswith(f"/cases/{case_id}")
