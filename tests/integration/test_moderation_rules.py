"""Rules that lived in the moderation views, tested where they live now (services)."""

from __future__ import annotations

import pytest

from backoffice.extensions import db
from backoffice.security import OutOfScope
from backoffice.services import alerts, intake, moderation
from tests.integration.moderation_support import new_report, payload, report_in, user


def _naming(phone: str) -> dict:
    return {"aggressor": {"identifiers": [{"kind": "phone", "value": phone}]}}


def test_candidates_share_an_identifier_and_could_go_into_an_alert(app_context):
    base = report_in("approved")
    shared = _naming(intake.identifier_value(base.identifiers[0]))
    in_review = report_in("in_review", **shared)
    approved = report_in("approved", **shared)
    no_consent = report_in(
        "in_review", consent={**payload()["consent"], "publish_alert": False}, **shared
    )
    rejected = report_in("rejected", **shared)
    waiting = new_report(**shared)  # received: not reviewed yet
    unrelated = report_in("approved")

    candidates = alerts.candidate_reports([base])

    assert set(candidates) == {in_review, approved}
    assert not {no_consent, rejected, waiting, unrelated} & set(candidates)
    # A report already in the alert is not offered again.
    assert alerts.candidate_reports([base, in_review]) == [approved]


def test_moderators_see_every_alert_others_only_live_ones(app_context):
    moderator, relay = user("demo-moderator"), user("demo-relay")
    draft = alerts.compose([report_in("approved")], moderator)
    published = alerts.compose([report_in("approved")], moderator)
    alerts.publish(published, moderator)
    db.session.commit()

    assert alerts.visible_alert(draft.reference, moderator) == draft
    assert alerts.visible_alert(published.reference, relay) == published
    with pytest.raises(OutOfScope):
        alerts.visible_alert(draft.reference, relay)
    with pytest.raises(OutOfScope):
        alerts.visible_alert("A-1999-000001", moderator)

    relay_page = alerts.staff_alerts(relay, page_size=500)
    assert all(a.status == "published" for a in relay_page.items)
    assert draft not in relay_page.items
    drafts = alerts.staff_alerts(moderator, status="draft", page_size=500)
    assert draft in drafts.items and published not in drafts.items


def test_a_report_knows_its_alerts_and_what_it_may_be_merged_into(app_context):
    moderator = user("demo-moderator")
    report = report_in("approved")
    alert = alerts.compose([report], moderator)
    db.session.commit()
    assert alerts.alerts_of_report(report) == [alert]
    assert report in alerts.reports_awaiting_alert(limit=10_000)

    phone = intake.identifier_value(report.identifiers[0])
    open_one = report_in("in_review", **_naming(phone))
    rejected = report_in("rejected", **_naming(phone))
    assert open_one in moderation.merge_candidates(report)
    assert rejected not in moderation.merge_candidates(report)


def test_reports_are_found_by_reference_in_the_order_asked(app_context):
    first, second = new_report(), new_report()
    found = moderation.reports_by_reference([second.reference, "S-0000-000000", first.reference])
    assert found == [second, first]
    assert moderation.report_by_reference(first.reference) == first
    assert moderation.find_report("  ") is None
    with pytest.raises(OutOfScope):
        moderation.report_by_reference("S-0000-000000")
    with pytest.raises(OutOfScope):
        moderation.get_report(10**9)


def test_received_reports_are_paged_newest_first(app_context):
    new_report(), new_report()
    first_page = moderation.received_reports(1, 1)
    assert first_page.size == 1 and len(first_page.items) == 1 and first_page.total >= 2
    second_page = moderation.received_reports(2, 1)
    assert first_page.items[0].received_at >= second_page.items[0].received_at
    beyond = moderation.received_reports(10**6, 1)
    assert beyond.number == beyond.pages  # past the end: the last page


def test_transitions_ask_for_the_moderate_capability_not_a_role_name(app_context):
    report = new_report()
    for username in ("demo-relay", "demo-social-a", "demo-coordinator", "demo-admin"):
        with pytest.raises(moderation.TransitionRefused):
            moderation.perform(report, "claim", user(username))
        assert moderation.available_transitions(report, user(username)) == []
    moderation.perform(report, "claim", user("demo-moderator"))
    assert report.status == "in_review"
    db.session.rollback()


def test_the_system_performs_only_what_the_table_gives_it(app_context):
    report = report_in("needs_info")
    with pytest.raises(moderation.TransitionRefused):
        moderation.perform(new_report(), "claim", None)
    moderation.perform(report, "info_added", None)
    assert report.status == "received"
    db.session.rollback()
