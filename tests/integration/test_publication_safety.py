"""Publication safety (issue 18.1): what goes out passes the anonymisation assistant, and the
actions that cannot be undone say what they will do and ask for confirmation first."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from backoffice.demo import AIDES
from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.audit import AuditEvent
from backoffice.models.dispatch import Delivery
from backoffice.models.report import Report
from backoffice.services import alerts, outbox, subscribers
from tests.conftest import csrf_token
from tests.integration.dispatch_support import organisation, unique_email, unique_mobile
from tests.integration.moderation_support import report_in, user

NAMING_SUMMARY = "Il a frappé Ioana, 24 ans, devant chez elle au 12 rue des Acacias."
CLEAN_SUMMARY = "Homme violent, refuse de payer et menace avec un couteau."
DEPARTMENT = "23"


def _draft(summary: str, translations: dict | None = None, department: str = "75") -> Alert:
    report = report_in("approved", incident={"department": department})
    parts = alerts.parts_from_reports([report])
    parts.summary = summary
    parts.departments = [department]
    parts.translations = translations or {}
    alert = alerts.compose([report], user("demo-moderator"), parts)
    db.session.commit()
    return alert


def _status(reference: str) -> str:
    return db.session.scalar(select(Alert.status).where(Alert.reference == reference))


# --- the assistant on the outgoing texts -------------------------------------------------------


def test_a_summary_naming_the_victim_blocks_publication_until_reviewed(app_context):
    alert = _draft(NAMING_SUMMARY)
    moderator = user("demo-moderator")
    findings = alerts.text_findings(alert)
    assert {f.type for f in findings} >= {"NAME", "AGE", "ADDRESS"}
    assert all(f.field == "summary" and f.blocking for f in findings)
    with pytest.raises(alerts.AlertError, match="anonymisation"):
        alerts.publish(alert, moderator)
    db.session.rollback()
    assert _status(alert.reference) == "draft"

    with pytest.raises(alerts.AlertError):  # a review needs a reason
        alerts.review_text_finding(alert, moderator, findings[0].key, "  ")
    reason = f"Prénom d'emprunt convenu ({alert.reference})"
    for finding in findings:
        alerts.review_text_finding(alert, moderator, finding.key, reason)
    db.session.commit()
    assert not [f for f in alerts.text_findings(alert) if f.blocking]
    events = [
        e
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "alert_text_reviewed")
        )
        if e.details.get("reason") == reason
    ]
    assert len(events) == len(findings)
    assert {e.details["type"] for e in events} == {f.type for f in findings}
    assert "Ioana" not in str([e.details for e in events])  # the value itself is not kept
    alerts.publish(alert, moderator)
    db.session.commit()
    assert _status(alert.reference) == "published"


def test_translations_are_read_in_their_language(app_context):
    alert = _draft(CLEAN_SUMMARY, {"ru": "Её зовут Наталья, ей 24 года.", "zh": "我叫王芳。"})
    fields = {(f.field, f.type) for f in alerts.text_findings(alert)}
    assert {("summary_ru", "NAME"), ("summary_ru", "AGE"), ("summary_zh", "NAME")} <= fields
    with pytest.raises(alerts.AlertError, match="summary_ru"):
        alerts.publish(alert, user("demo-moderator"))
    db.session.rollback()


def test_a_review_holds_for_that_detail_only(app_context):
    alert = _draft("Il a menacé Ioana.")
    moderator = user("demo-moderator")
    (finding,) = alerts.text_findings(alert)
    alerts.review_text_finding(alert, moderator, finding.key, "Nom du groupe, pas d'une femme")
    db.session.commit()
    parts = alerts.parts_from_alert(alert)
    parts.summary = "Il a menacé Florentina."
    alerts.update_draft(alert, moderator, parts)
    db.session.commit()
    assert [f.value for f in alerts.text_findings(alert) if f.blocking] == ["Florentina"]


def test_the_aggressors_published_identifiers_are_not_findings(app_context):
    phone = unique_mobile()
    report = report_in("approved", aggressor={"identifiers": [{"kind": "phone", "value": phone}]})
    parts = alerts.parts_from_reports([report])
    parts.summary = f"Il appelle depuis le {phone} et refuse de payer."
    alert = alerts.compose([report], user("demo-moderator"), parts)
    db.session.commit()
    assert alerts.text_findings(alert) == []


# --- through the pages: blocked, and confirmed -------------------------------------------------


def _draft_reference(app, summary: str, department: str = "75") -> str:
    with app.app_context():
        reference = _draft(summary, department=department).reference
        db.session.remove()
        return reference


def _post(client, url: str, page: str, data: dict):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


def _version(app, reference: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Alert.version_id).where(Alert.reference == reference))


def test_the_page_shows_the_findings_and_a_direct_post_cannot_publish(app, login_as):
    reference = _draft_reference(app, NAMING_SUMMARY)
    client = login_as("demo-moderator")
    edit = f"/composer/edit/{reference}"
    html = client.get(edit).get_data(as_text=True)
    assert 'id="text-check"' in html and 'data-blocking="yes"' in html and "Ioana" in html
    confirm = client.get(f"/composer/publish/{reference}").get_data(as_text=True)
    assert 'id="confirm-blocked"' in confirm and 'id="confirm-action"' not in confirm
    data = {"version": _version(app, reference), "confirmed": "1"}
    response = _post(client, f"/composer/publish/{reference}", edit, data)
    assert response.status_code == 302
    with app.app_context():
        assert _status(reference) == "draft"
    # Reviewed with a reason through the page, one by one, then it goes.
    while True:
        html = client.get(edit).get_data(as_text=True)
        keys = re.findall(r'name="key" value="([0-9a-f]+)"', html)
        if not keys:
            break
        review = {"key": keys[0], "reason": "Faux positif", "version": _version(app, reference)}
        _post(client, f"/composer/review/{reference}", edit, review)
    data = {"version": _version(app, reference), "confirmed": "1"}
    _post(client, f"/composer/publish/{reference}", edit, data)
    with app.app_context():
        assert _status(reference) == "published"


def _subscribe(count: int, *, sms: bool, email: bool) -> None:
    for _ in range(count):
        data = {
            "pseudonym": "Test",
            "phone": unique_mobile() if sms else "",
            "email": unique_email() if email else "",
            "language": "fr",
            "departments": DEPARTMENT,
        }
        subscribers.register(data, organisation(AIDES).id, validate_now=True)
    db.session.commit()


def test_the_publication_page_states_the_counts_and_a_post_without_it_is_refused(app, login_as):
    reference = _draft_reference(app, CLEAN_SUMMARY, DEPARTMENT)
    with app.app_context():
        _subscribe(3, sms=True, email=False)
        _subscribe(2, sms=True, email=True)
        alert = db.session.scalar(select(Alert).where(Alert.reference == reference))
        expected = outbox.recipient_counts(alert)
        db.session.remove()
    assert expected["sms"] >= 5 and expected["email"] >= 2
    client = login_as("demo-moderator")
    edit = f"/composer/edit/{reference}"
    page = client.get(f"/composer/publish/{reference}").get_data(as_text=True)
    assert f"{expected['sms']} SMS" in page
    assert re.search(rf"\b{expected['email']} e-mails?\b", page)
    assert 'name="confirmed" value="1"' in page
    # The form of the draft page, without the confirmation step: nothing happens.
    _post(client, f"/composer/publish/{reference}", edit, {"version": _version(app, reference)})
    with app.app_context():
        assert _status(reference) == "draft"
    data = {"version": _version(app, reference), "confirmed": "1"}
    _post(client, f"/composer/publish/{reference}", edit, data)
    with app.app_context():
        alert = db.session.scalar(select(Alert).where(Alert.reference == reference))
        assert alert.status == "published"
        queued = dict(
            db.session.execute(
                select(Delivery.channel, func.count())
                .where(Delivery.alert_id == alert.id, Delivery.subscriber_id.is_not(None))
                .group_by(Delivery.channel)
            ).all()
        )
        assert queued == {"sms": expected["sms"], "email": expected["email"]}


def test_retraction_and_rejection_ask_for_confirmation(app, login_as):
    with app.app_context():
        published = report_in("published")
        alert_reference = alerts.alerts_of_report(published)[0].reference
        to_reject = report_in("in_review").reference
        db.session.remove()
    client = login_as("demo-moderator")
    show = f"/alerts/show/{alert_reference}"
    data = {"reason": "Erreur de saisie", "version": _version(app, alert_reference)}
    page = _post(client, f"/composer/retract/{alert_reference}", show, data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm-consequences"' in html
    assert re.search(r"\b1 (report|signalement)", html)
    assert "Erreur de saisie" in html  # carried to the confirmation form
    with app.app_context():
        assert _status(alert_reference) == "published"
    _post(client, f"/composer/retract/{alert_reference}", show, {**data, "confirmed": "1"})
    with app.app_context():
        assert _status(alert_reference) == "retracted"

    report_page = f"/moderation/reports/{to_reject}"
    with app.app_context():
        version = db.session.scalar(select(Report.version_id).where(Report.reference == to_reject))
    data = {"transition": "reject", "reason": "Hors sujet", "version": version}
    html = _post(client, f"{report_page}/transition", report_page, data).get_data(as_text=True)
    assert to_reject in html and 'id="confirm-action"' in html
    with app.app_context():
        status = db.session.scalar(select(Report.status).where(Report.reference == to_reject))
        assert status == "in_review"
