"""A relay answers the moderators' question about a report her association filed, in a real
browser, on a phone's width: the report goes back to review (issue 18, "Done when")."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.report import Report
from backoffice.services import intake, moderation
from tests.browser.axe_support import AXE_OPTIONS, axe
from tests.browser.conftest import browser_login
from tests.integration.moderation_support import payload, user

pytestmark = pytest.mark.browser

QUESTION = "Dans quel hôtel était-ce, et vers quelle heure ?"


def _fits(page) -> bool:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return scroll <= inner


def test_a_relay_answers_a_question_on_her_phone(app, page, tmp_path):
    with app.app_context():
        relay = user("demo-relay")
        report = intake.submit_report(
            payload(),
            default_channel="phone",
            filed_by=relay,
            filing_organisation_id=relay.organisation_id,
        )
        db.session.commit()
        moderator = user("demo-moderator")
        moderation.perform(report, "claim", moderator)
        moderation.perform(report, "request_info", moderator, reason=QUESTION)
        db.session.commit()
        reference = report.reference
        db.session.remove()

    page.set_viewport_size({"width": 390, "height": 800})
    browser_login(page, "demo-relay")
    page.goto("/partner/reports/?show=question")
    assert _fits(page)
    with page.expect_navigation():
        page.click(f"text={reference}")
    assert page.locator(".question-text").inner_text() == QUESTION
    assert _fits(page)
    violations = axe().run(page, options=AXE_OPTIONS).response["violations"]
    assert not [v["id"] for v in violations]

    # An empty answer is refused with a clear message; nothing changes.
    page.fill("#answer", "   ")
    with page.expect_navigation():
        page.click("#question button[type=submit]")
    assert page.locator("#answer-error").is_visible()
    assert "Write your answer" in page.locator("#answer-error").inner_text()

    page.fill("#answer", "Hôtel de la gare, vers 23 h, chambre au 2e étage.")
    with page.expect_navigation():
        page.click("#question button[type=submit]")
    assert "Thank you" in page.content()
    assert page.locator("#question").count() == 0  # nothing left to answer
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=str(tmp_path / "relay-answered-390.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto("/partner/reports/")
    assert _fits(page)

    with app.app_context():
        found = db.session.scalar(select(Report).where(Report.reference == reference))
        assert found.status == "received"
        assert moderation.history(found)[-1].actor_name == "demo-relay"
