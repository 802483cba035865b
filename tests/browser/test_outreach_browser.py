"""A volunteer's round in a real browser: sign in, open a session, paste a mixed batch with
one number already contacted, add the new ones, log a reply and a registration."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.extensions import db
from backoffice.services import outreach as service
from backoffice.services.sms_encoding import sms_parts
from tests.browser.conftest import browser_login
from tests.integration.outreach_support import fresh_mobile, make_session, spellings

pytestmark = pytest.mark.browser


def _statuses(page) -> dict[str, str]:
    rows = page.locator("#check-results tr.outreach-line")
    return {
        rows.nth(i).get_attribute("data-line"): rows.nth(i).get_attribute("data-status")
        for i in range(rows.count())
    }


def test_a_volunteer_checks_adds_and_logs_a_round(app, page):
    with app.app_context():
        earlier = make_session(day=dt.date.today() - dt.timedelta(days=3))
        known = fresh_mobile()
        service.add_contacts(earlier, known)
        db.session.commit()
        earlier_reference = earlier.reference
    first, second = fresh_mobile(), fresh_mobile()

    browser_login(page, "demo-outreach")
    page.goto("/outreach/sessions/add")
    page.fill("input[name=session_date]", dt.date.today().isoformat())
    page.fill("input[name=city]", "Toulouse")
    page.select_option("select[name=department]", "31")
    with page.expect_navigation():
        page.locator("form:has(input[name=city]) [type=submit]").first.click()
    assert "/outreach/sessions/show/" in page.url

    paste = "\n".join(
        [
            spellings(first)[0],  # 06 12 34 56 78
            spellings(known)[1],  # +33 6 …, contacted three days ago
            "",
            spellings(second)[2],  # 0033…
            "voir annonce",  # junk
            spellings(first)[1],  # the first one again, another spelling
        ]
    )
    page.fill("#batch", paste)
    with page.expect_navigation():
        page.click("#check-button")
    assert _statuses(page) == {
        "1": "new",
        "2": "known",
        "4": "new",
        "5": "invalid",
        "6": "duplicate",
    }
    known_row = page.locator('tr[data-line="2"]')
    assert earlier_reference in known_row.inner_text()
    assert "Olga" in known_row.inner_text()
    with app.app_context():  # the same locale as the page: the default one
        reason = str(service.REASONS["unrecognised"])
    assert reason in page.locator('tr[data-line="5"]').inner_text()

    page.select_option("#add-language", "es")
    with page.expect_navigation():
        page.click("#add-button")
    contacts = page.locator("tr.outreach-contact")
    assert contacts.count() == 2
    table = page.locator("table.outreach-contacts").inner_text()
    assert "+33 " + first[1:] in table and "+33 " + second[1:] in table
    assert "+33 " + known[1:] not in table

    first_row = page.locator("tr.outreach-contact", has_text="+33 " + first[1:])
    for kind in ("reply", "registration"):
        first_row.locator("input[name=contact]").check()
        page.select_option("#outcome-kind", kind)
        with page.expect_navigation():
            page.click("#log-button")
        first_row = page.locator("tr.outreach-contact", has_text="+33 " + first[1:])
        assert first_row.locator(f".outreach-outcome-{kind}").count() == 1

    second_row = page.locator("tr.outreach-contact", has_text="+33 " + second[1:])
    assert second_row.locator(".outreach-outcome").count() == 0
    refused = [m.text for m in page.console_messages() if "Content Security Policy" in m.text]
    assert refused == []


def test_the_live_sms_counter_matches_the_server_rule(app, page):
    with app.app_context():
        session_id = make_session().id
    browser_login(page, "demo-outreach")
    page.goto(f"/outreach/sessions/show/{session_id}")
    samples = [
        "",
        "a" * 160,
        "a" * 161,
        "€" * 80,  # extension characters count two septets
        "€" * 81,
        "Bonjour, ça va ?",  # ç is not GSM-7: the whole text goes as UCS-2
        "Привет" * 12,
        "😀" * 35,  # astral characters: two UTF-16 units each
        "😀" * 36,
        "x" * 152 + "€" + "y" * 10,  # an escape pair is never cut between two parts
    ]
    in_browser = page.evaluate("(texts) => texts.map((t) => window.outreachSmsParts(t))", samples)
    assert [tuple(parts) for parts in in_browser] == [sms_parts(text) for text in samples]

    page.select_option(".outreach-pick-purpose", "how_to_register")
    page.select_option(".outreach-pick-language", "bg")
    text = page.locator("#picked-text").inner_text()
    assert text.strip()
    _encoding, segments, chars = sms_parts(text)
    count = page.locator("#picked-count").inner_text()
    assert f"{chars} " in count and f"{segments} " in count
