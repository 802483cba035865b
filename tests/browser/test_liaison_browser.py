"""A social worker prints the emergency liaison sheet from a case page, on a phone (390 px)
and a laptop (1,366 px): the button is there, the page does not scroll sideways, and the
sheet it opens is a PDF."""

from __future__ import annotations

import os

import pytest

from backoffice.extensions import db
from tests.browser.conftest import browser_login
from tests.integration.cases_support import AIDES_WORKER, open_case

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("BROWSER_SCREENSHOTS")  # a folder to keep the screenshots in


@pytest.mark.parametrize("width", [390, 1366])
def test_the_case_page_offers_the_liaison_sheet(app, page, width):
    with app.app_context():
        case_id = open_case(AIDES_WORKER).id
        db.session.remove()
    page.set_viewport_size({"width": width, "height": 900})
    browser_login(page, AIDES_WORKER)
    page.goto(f"/cases/{case_id}")
    link = page.locator("#liaison-sheet a")
    link.scroll_into_view_if_needed()
    assert link.is_visible()
    assert link.get_attribute("href").endswith(f"/cases/{case_id}/liaison-sheet.pdf")
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the case page is {scroll}px wide at {inner}px"
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"liaison-button-{width}.png"))
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
