"""Composing, publishing, retracting and expiring alerts; rendering them in ten languages."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.jobs import JOBS
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.services import alerts, moderation
from backoffice.services.alert_text import untranslated_terms
from backoffice.services.vocabulary import ALERT_LANGUAGES
from tests.integration.moderation_support import (
    new_report,
    payload,
    report_in,
    unique_phone,
    user,
)


def _approved_pair():
    """Two approved reports naming the same phone (corroboration)."""
    phone = unique_phone()
    identifiers = {"identifiers": [{"kind": "phone", "value": phone}]}
    first = report_in("approved", aggressor=identifiers)
    second = report_in(
        "approved",
        aggressor={"identifiers": [{"kind": "phone", "value": "+33 " + phone[1:]}]},
        incident={**payload()["incident"], "department": "93", "violence_types": ["rape"]},
    )
    return first, second, phone


def test_an_alert_from_corroborating_reports(app_context):
    first, second, _phone = _approved_pair()
    assert [r for r, _k in moderation.linked_reports(first)] == [second]
    alert = alerts.compose([first, second], user("demo-moderator"))
    db.session.commit()
    assert alert.status == "draft" and alert.reference.startswith("A-")
    assert alert.reports_count == 2
    assert set(alert.departments) == {"75", "93"}
    assert set(alert.violence_types) == {"theft", "condom_removal", "rape"}
    assert alert.severity == "dangerous"  # rape
    assert len(alert.identifiers) == 1  # the same phone, written two ways, published once


def test_severity_is_derived_and_can_be_raised_not_lowered(app_context):
    report = report_in("approved")  # theft + condom removal: risky
    moderator = user("demo-moderator")
    parts = alerts.parts_from_reports([report])
    alert = alerts.compose([report], moderator, parts)
    assert alert.severity == "risky"
    parts.severity = "dangerous"
    alerts.update_draft(alert, moderator, parts)
    assert alert.severity == "dangerous"
    parts.severity = "nuisance"
    with pytest.raises(alerts.AlertError) as refused:
        alerts.update_draft(alert, moderator, parts)
    assert "severity" in refused.value.errors
    db.session.rollback()


def test_invalid_parts_are_refused_field_by_field(app_context):
    report = report_in("approved")
    parts = alerts.parts_from_reports([report])
    parts.violence_types = []
    parts.departments = ["999"]
    parts.description = {"gender": "alien", "shoe_size": "44"}
    parts.extra_identifiers = [("phone", "not a phone")]
    parts.summary = "x" * 3000
    with pytest.raises(alerts.AlertError) as refused:
        alerts.compose([report], user("demo-moderator"), parts)
    assert set(refused.value.errors) >= {
        "violence_types",
        "departments",
        "description.gender",
        "description.shoe_size",
        "identifiers",
        "summary",
    }
    db.session.rollback()
    assert db.session.scalar(select(Alert).join(Alert.report_links).where(
        alerts.AlertReport.report_id == report.id)) is None  # fmt: skip


def test_publication_records_dispatch_and_expiry(app, app_context):
    report = report_in("approved")
    alert = alerts.compose([report], user("demo-moderator"))
    now = utcnow()
    alerts.publish(alert, user("demo-moderator"), now=now)
    db.session.commit()
    assert alert.status == "published" and report.status == "published"
    assert alert.dispatch_requested_at == now
    assert alert.expires_at == alerts.add_months(now, 12)
    assert moderation.history(report)[-1].details["alert"] == alert.reference
    app.config["ALERT_EXPIRY_MONTHS"] = 3
    try:
        other = alerts.compose([report_in("approved")], user("demo-moderator"))
        alerts.publish(other, user("demo-moderator"), now=now)
        assert other.expires_at == alerts.add_months(now, 3)
    finally:
        app.config["ALERT_EXPIRY_MONTHS"] = 12
        db.session.rollback()


def test_publication_needs_approved_reports(app_context):
    report = report_in("in_review")
    alert = alerts.compose([report], user("demo-moderator"))
    with pytest.raises(alerts.AlertError, match="approved"):
        alerts.publish(alert, user("demo-moderator"))
    db.session.rollback()


def test_a_draft_cannot_repeat_the_victims_details(app_context):
    report = report_in("in_review")
    moderator = user("demo-moderator")
    start = report.narrative.index("Lila")
    spans = [moderation.Span(start, start + 4, "NAME")]
    moderation.review_redaction(report, moderator, spans)
    moderation.perform(report, "approve", moderator)
    parts = alerts.parts_from_reports([report])
    parts.summary = "Il a agressé LILA dans sa voiture."
    alert = alerts.compose([report], moderator, parts)
    db.session.commit()
    with pytest.raises(alerts.AlertError, match=report.reference):
        alerts.publish(alert, moderator)
    db.session.rollback()
    parts.summary = "Il a appelé au 07.98.76.54.32 pour menacer."  # her declared phone
    alerts.update_draft(alert, moderator, parts)
    with pytest.raises(alerts.AlertError):
        alerts.publish(alert, moderator)
    db.session.rollback()
    parts.summary = "Homme violent, se fait passer pour un habitué."
    alerts.update_draft(alert, moderator, parts)
    alerts.publish(alert, moderator)
    db.session.commit()
    assert alert.status == "published"


def test_retraction_takes_the_alert_down_and_archives_its_reports(app_context):
    report = report_in("published")
    alert = db.session.scalar(
        select(Alert).join(alerts.AlertReport).where(alerts.AlertReport.report_id == report.id)
    )
    alerts.retract(alert, user("demo-moderator"), "Wrong number")
    db.session.commit()
    assert alert.status == "retracted" and alert.retraction_reason == "Wrong number"
    assert report.status == "archived"
    assert moderation.history(report)[-1].reason == "Wrong number"
    live, _cursor = alerts.live_alerts(limit=500)
    assert alert not in live
    with pytest.raises(alerts.AlertError):
        alerts.retract(alert, user("demo-moderator"), "again")


def test_the_expiry_job_archives_alerts_whose_time_is_up(app_context):
    assert JOBS["expire_alerts"].target == "backoffice.services.alerts:expire_due_alerts"
    assert JOBS["expire_alerts"].trigger == {"trigger": "cron", "hour": 3}
    report = report_in("approved")
    alert = alerts.compose([report], user("demo-moderator"))
    published = utcnow() - dt.timedelta(days=400)
    alerts.publish(alert, user("demo-moderator"), now=published)
    db.session.commit()
    assert alert.expires_at < utcnow()
    # Published yet already expired: out of the feed before the job even runs.
    assert alert not in alerts.live_alerts(limit=500)[0]
    count = alerts.expire_due_alerts()
    db.session.commit()
    assert count >= 1
    assert alert.status == "archived" and alert.archived_at is not None
    assert report.status == "archived"
    assert moderation.history(report)[-1].actor_name == "system"


def test_a_draft_can_be_discarded_not_a_published_alert(app_context):
    report = report_in("approved")
    draft = alerts.compose([report], user("demo-moderator"))
    db.session.commit()
    alerts.discard_draft(draft, user("demo-moderator"))
    db.session.commit()
    assert db.session.get(Alert, draft.id) is None
    assert report.status == "approved"
    published = report_in("published")
    alert = db.session.scalar(
        select(Alert).join(alerts.AlertReport).where(alerts.AlertReport.report_id == published.id)
    )
    with pytest.raises(alerts.AlertError):
        alerts.discard_draft(alert, user("demo-moderator"))


def test_a_stale_alert_form_is_refused(app_context):
    report = report_in("approved")
    alert = alerts.compose([report], user("demo-moderator"))
    db.session.commit()
    seen = alert.version_id
    parts = alerts.parts_from_alert(alert)
    parts.summary = "Première version."
    alerts.update_draft(alert, user("demo-moderator"), parts, expected_version=seen)
    db.session.commit()
    with pytest.raises(alerts.AlertChanged):
        alerts.publish(alert, user("demo-moderator"), expected_version=seen)
    db.session.rollback()
    assert alert.status == "draft"


# --- ten languages -------------------------------------------------------------------------

# English labels of the controlled terms this alert uses: none may remain in another language.
ENGLISH_TERMS = [
    "Dangerous",
    "Rape",
    "Non-consensual condom removal",
    "Indoors, at her place",
    "Heavy build",
    "36-45 years old",
    "Licence plate",
    "Aggressor",
    "Vehicle",
    "independent reports",
    "Severity",
]


@pytest.fixture
def rich_alert(app_context):
    report = new_report(
        incident={**payload()["incident"], "violence_types": ["rape", "condom_removal"]},
        aggressor={
            "description": {"gender": "man", "age_range": "36-45", "build": "heavy"},
            "vehicle": {"make": "Renault", "colour": "grey"},
            "identifiers": [
                {"kind": "phone", "value": unique_phone()},
                {"kind": "plate", "value": "AB-123-CD"},
            ],
        },
    )
    moderation.perform(report, "claim", user("demo-moderator"))
    moderation.review_redaction(report, user("demo-moderator"))
    moderation.perform(report, "approve", user("demo-moderator"))
    parts = alerts.parts_from_reports([report])
    parts.summary = "Homme agressif, refuse le préservatif."
    parts.translations = {"en": "Aggressive man, refuses condoms."}
    alert = alerts.compose([report], user("demo-moderator"), parts)
    alerts.publish(alert, user("demo-moderator"))
    db.session.commit()
    return alert


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_the_alert_renders_in_every_language_with_no_untranslated_term(rich_alert, language):
    assert untranslated_terms(language) == []
    item = alerts.feed_item(rich_alert, language)
    assert item["language"] == language and item["reference"] == rich_alert.reference
    if language != "en":
        leftovers = [term for term in ENGLISH_TERMS if term in item["text"]]
        assert leftovers == [], f"untranslated in {language}: {leftovers}"
    assert "AB-123-CD" in item["text"]  # identifiers are never translated
    expected_summary = {"en": "Aggressive man"}.get(language, "Homme agressif")
    assert expected_summary in item["text"]  # own translation, else the French original


def test_previews_cover_the_configured_languages(rich_alert):
    previews = alerts.previews(rich_alert)
    assert list(previews) == list(ALERT_LANGUAGES)
    assert previews["ar"].direction == "rtl" and previews["fr"].direction == "ltr"
    assert previews["pt"].summary_is_fallback and not previews["en"].summary_is_fallback
