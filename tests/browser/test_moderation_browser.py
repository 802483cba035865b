"""A moderator's day in a real browser: claim a report, correct the redaction, approve,
compose and publish an alert, then find it through the identifier check."""

from __future__ import annotations

import pytest

from backoffice.extensions import db
from tests.browser.conftest import browser_login
from tests.integration.moderation_support import new_report, payload, unique_phone

pytestmark = pytest.mark.browser

SELECT_WORD = """
([word, occurrence]) => {
  const narrative = document.getElementById("narrative");
  const walker = document.createTreeWalker(narrative, NodeFilter.SHOW_TEXT);
  let seen = 0;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    let index = node.textContent.indexOf(word);
    while (index >= 0) {
      if (seen === occurrence) {
        const range = document.createRange();
        range.setStart(node, index);
        range.setEnd(node, index + word.length);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        return true;
      }
      seen += 1;
      index = node.textContent.indexOf(word, index + 1);
    }
  }
  return false;
}
"""


def test_claim_redact_compose_publish_then_check(app, page):
    phone = unique_phone()
    with app.app_context():
        report = new_report(
            narrative="Je suis Lila. Le client a appelé depuis son portable puis a volé mon sac.",
            aggressor={"identifiers": [{"kind": "phone", "value": phone}]},
            incident={**payload()["incident"], "department": "64"},
        )
        reference = report.reference
        db.session.remove()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    browser_login(page, "demo-moderator")
    page.goto("/moderation/queue?department=64")
    with page.expect_navigation():
        page.click(f"text={reference}")
    with page.expect_navigation():
        page.click("form[data-transition=claim] button")
    assert page.locator(".report-status").get_attribute("data-status") == "in_review"

    # Mark her name by selecting it, as a moderator would with the mouse.
    assert page.evaluate(SELECT_WORD, ["Lila", 0])
    page.select_option("#redaction-type", "NAME")
    page.click("#redaction-add")
    assert page.locator("#narrative mark.redaction[data-type=NAME]").count() == 1
    assert "[NOM]" in page.locator("#redacted-preview").inner_text()
    with page.expect_navigation():
        page.click("#redaction-save")
    assert page.locator(".redaction-state").get_attribute("data-reviewed") == "yes"
    assert page.locator("#narrative mark.redaction").first.inner_text() == "Lila"

    with page.expect_navigation():
        page.click("form[data-transition=approve] button")
    assert page.locator(".report-status").get_attribute("data-status") == "approved"

    with page.expect_navigation():
        page.click("#compose-alert")
    page.check("input[name=identifiers]")
    page.fill("#summary", "Client violent, vole les affaires après la passe.")
    page.select_option("#severity", "dangerous")
    with page.expect_navigation():
        page.click("#save-draft")
    assert page.locator("#preview-ar").get_attribute("dir") == "rtl"
    page.click("a[href='#preview-zh']")
    assert page.locator("#preview-zh").is_visible()
    with page.expect_navigation():
        page.click("#publish-alert")
    assert page.locator("#confirm-consequences li").count() >= 3  # counts of SMS, e-mails…
    with page.expect_navigation():
        page.click("#confirm-action")
    assert "/alerts/show/" in page.url
    alert_reference = page.url.rsplit("/", 1)[1].split("?")[0]
    assert page.locator(".alert-status").get_attribute("data-status") == "published"

    page.goto("/check/")
    page.fill("#check-value", "+33 " + phone[1:])
    with page.expect_navigation():
        page.click("#check-submit")
    assert alert_reference in page.locator(".check-alerts").inner_text()
    assert reference in page.locator(".check-reports").inner_text()
    assert "/check" in page.url and phone[1:] not in page.url  # never in an address
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
