"""Correcting and strengthening a published alert, and reusing the reports of a retracted one
(issue 18, item 6): versions, identifiers switched in the check and the feed, notices sent
once in each recipient's language, the history, attaching a later report."""

from __future__ import annotations

import datetime as dt
import uuid

import phonenumbers
import pytest
from sqlalchemy import select, update

from backoffice.demo import AIDES
from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport, AlertVersion
from backoffice.models.audit import AuditEvent
from backoffice.models.dispatch import Delivery
from backoffice.models.subscriber import Subscriber
from backoffice.security import OutOfScope
from backoffice.services import (
    alerts,
    api_keys,
    dispatch,
    identifiers,
    moderation,
    outbox,
    subscribers,
)
from backoffice.services.alert_text import render_revision_sms
from tests.conftest import csrf_token, new_root_key
from tests.integration.dispatch_support import (
    SmsGateway,
    SmtpServer,
    organisation,
    unique_mobile,
)
from tests.integration.moderation_support import report_in, unique_phone, user


def _with_phone(phone: str, **overrides) -> dict:
    return {"aggressor": {"identifiers": [{"kind": "phone", "value": phone}]}, **overrides}


def _alert_of(report) -> Alert:
    return db.session.scalar(
        select(Alert)
        .join(AlertReport, AlertReport.alert_id == Alert.id)
        .where(AlertReport.report_id == report.id)
        .order_by(Alert.id.desc())
    )


def _published(phone: str) -> Alert:
    return _alert_of(report_in("published", **_with_phone(phone)))


def _shown(phone: str) -> str:
    return identifiers.display("phone", identifiers.normalise("phone", phone))


def _correction(alert: Alert, new_phone: str, summary: str | None = None) -> alerts.AlertParts:
    """The alert's parts with its phone replaced by ``new_phone`` (a wrong digit fixed)."""
    parts = alerts.parts_from_alert(alert)
    parts.kept_identifier_ids = [row.id for row in alert.identifiers if row.kind != "phone"]
    parts.extra_identifiers = [("phone", new_phone)]
    if summary is not None:
        parts.summary = summary
    return parts


def _matches(phone: str) -> list[str]:
    return [m.alert for m in alerts.check_identifier(phone, "phone", source="backoffice").matches]


def _audited(action: str, alert: Alert) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.object_id == alert.reference
            )
        )
    )


# --- correction ------------------------------------------------------------------------------


def test_a_correction_is_a_new_version_and_the_check_uses_the_right_number_at_once(app_context):
    wrong, right = unique_phone(), unique_phone()
    alert = _published(wrong)
    assert _matches(wrong) == [alert.reference]

    version = alerts.correct(
        alert, user("demo-moderator"), _correction(alert, right), "One digit was wrong"
    )
    db.session.commit()

    assert _matches(wrong) == []  # the wrong number no longer points at the alert
    assert _matches(right) == [alert.reference]
    assert alert.version_number == 2 and alert.status == "published"
    assert version.number == 1 and version.kind == "correction"
    assert version.changes == ["identifiers"] and version.reason == "One digit was wrong"
    assert version.superseded_by_id == user("demo-moderator").id
    # The public feed shows the corrected number only.
    shown = [i["display"] for i in alerts.feed_item(alert, "fr")["aggressor"]["identifiers"]]
    assert shown == [_shown(right)]
    # The old number is kept in the history, sealed: never clear in the database.
    assert identifiers.normalise("phone", wrong)[3:] not in (version.identifiers_sealed or "")
    history = alerts.version_history(alert, user("demo-moderator"))
    assert [(v.number, v.current) for v in history] == [(2, True), (1, False)]
    assert history[0].identifiers == [("phone", _shown(right))]
    assert history[1].identifiers == [("phone", _shown(wrong))]
    assert history[0].kind == "correction" and history[0].reason == "One digit was wrong"
    (corrected,) = _audited("alert_corrected", alert)
    assert corrected.details["changes"] == ["identifiers"] and corrected.details["version"] == 2
    assert right not in str(corrected.details) and wrong not in str(corrected.details)
    db.session.commit()
    assert _audited("alert_history_read", alert)


def test_the_api_check_answers_with_the_corrected_number(app):
    wrong, right = unique_phone(), unique_phone()
    with app.app_context():
        alert = _published(wrong)
        alerts.correct(alert, user("demo-moderator"), _correction(alert, right), "Typo")
        _client, key = api_keys.create_client(f"versions-{uuid.uuid4().hex[:8]}")
        reference = alert.reference
        db.session.commit()
        db.session.remove()
    headers = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    old = client.post("/api/v1/check", json={"value": wrong, "kind": "phone"}, headers=headers)
    new = client.post("/api/v1/check", json={"value": right, "kind": "phone"}, headers=headers)
    assert old.status_code == 200 and old.get_json()["matches"] == []
    assert [m["alert"] for m in new.get_json()["matches"]] == [reference]


def test_a_correction_that_would_leak_or_change_nothing_is_refused_and_changes_nothing(
    app_context,
):
    phone = unique_phone()
    alert = _published(phone)
    moderator = user("demo-moderator")
    # The victim's own pseudonym (declared in the report) in the corrected summary.
    leaking = _correction(alert, unique_phone(), summary="Il a agressé Lila chez elle.")
    with pytest.raises(alerts.AlertError):
        alerts.correct(alert, moderator, leaking, "Typo")
    db.session.rollback()
    unchanged = alerts.parts_from_alert(alert)
    unchanged.kept_identifier_ids = [row.id for row in alert.identifiers]
    with pytest.raises(alerts.AlertError) as nothing:
        alerts.correct(alert, moderator, unchanged, "No change")
    assert "Nothing was changed" in str(nothing.value.message)
    db.session.rollback()
    with pytest.raises(alerts.AlertError) as no_reason:
        alerts.correct(alert, moderator, _correction(alert, unique_phone()), "  ")
    assert "reason" in no_reason.value.errors
    db.session.rollback()
    # The reason stays in clear in the history: the wrong number (maybe an innocent person's)
    # and the victim's name have no place in it.
    for telling in (f"Le numéro était {phone}", "Confusion avec Lila"):
        with pytest.raises(alerts.AlertError) as detail:
            alerts.correct(alert, moderator, _correction(alert, unique_phone()), telling)
        assert "reason" in detail.value.errors and phone not in str(detail.value.message)
        db.session.rollback()
    with pytest.raises(OutOfScope):
        alerts.correct(alert, user("demo-relay"), _correction(alert, unique_phone()), "Typo")
    db.session.rollback()
    db.session.expire_all()
    assert alert.versions == [] and "Lila" not in (alert.summary or "")
    assert _matches(phone) == [alert.reference]
    revisions = select(Delivery).where(Delivery.alert_id == alert.id, Delivery.purpose != "alert")
    assert db.session.scalars(revisions).all() == []


def _subscriber(language: str, department: str) -> Subscriber:
    data = {
        "pseudonym": "Test",
        "phone": unique_mobile(),
        "email": "",
        "language": language,
        "departments": department,
    }
    row = subscribers.register(data, organisation(AIDES).id, validate_now=True)
    db.session.flush()
    return row


def _e164(subscriber_row) -> str:
    value = subscribers.contact_for_dispatch(subscriber_row, "phone")
    return phonenumbers.format_number(
        phonenumbers.parse(value, "FR"), phonenumbers.PhoneNumberFormat.E164
    )


def _head_of_queue(alert: Alert) -> None:
    """The shared test database may hold other tests' rows: ours go first."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.alert_id == alert.id, Delivery.status == "queued")
        .values(next_attempt_at=dt.datetime(2000, 1, 1))
    )
    db.session.commit()


def test_the_correction_notice_goes_once_to_each_recipient_in_her_language(
    app, app_context, monkeypatch
):
    department = "971"  # Guadeloupe: few other tests' subscribers there
    readers = {lang: _subscriber(lang, department) for lang in ("fr", "ro", "ru", "ar")}
    paused_later = _subscriber("es", department)
    db.session.commit()
    wrong, right = unique_phone(), unique_phone()
    incident = {"department": department, "city": "Pointe-à-Pitre"}
    report = report_in("published", **_with_phone(wrong), incident=incident)
    alert = _alert_of(report)
    with SmsGateway(script=["ok"]) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        _head_of_queue(alert)
        dispatch.dispatch_due()
        numbers = {lang: _e164(row) for lang, row in readers.items()}
        received = {to for to, _text, _ref in gateway.handset}
        assert set(numbers.values()) | {_e164(paused_later)} <= received
        # After the alert went out: one recipient pauses, another registers.
        subscribers.pause(paused_later)
        newcomer = _subscriber("fr", department)
        db.session.commit()
        assert outbox.revision_counts(alert)["sms"] >= len(readers)

        version = alerts.correct(
            alert, user("demo-moderator"), _correction(alert, right), "Wrong digit"
        )
        db.session.commit()
        assert version.notices >= len(readers)
        # A second enqueue of the same version writes nothing.
        assert outbox.enqueue_revision(alert, "correction", 2) == 0
        db.session.commit()
        _head_of_queue(alert)
        before = len(gateway.handset)
        dispatch.dispatch_due()
        dispatch.dispatch_due()  # a second pass sends nothing again
        notices = gateway.handset[before:]

    content = alerts.content_of(alert)
    for lang, number in numbers.items():
        mine = [text for to, text, _ref in notices if to == number]
        assert mine == [render_revision_sms(content, lang, "correction")], lang
    assert mine[0].startswith("تصحيح التنبيه")  # Arabic, the last one
    corrected = _shown(right).replace(" ", "")
    for to, text, _ref in notices:
        if to in numbers.values():
            assert corrected in text.replace(" ", "").replace("\u2066", "").replace("\u2069", "")
    # The paused one gets nothing, the newcomer only her welcome: neither got the old text.
    others = [t for to, t, _r in notices if to in (_e164(paused_later), _e164(newcomer))]
    assert not [t for t in others if alert.reference in t]


# --- strengthening ---------------------------------------------------------------------------


def test_a_later_report_strengthens_a_live_alert_count_severity_and_update(app_context):
    phone = unique_phone()
    department = "973"  # Guyane: a reader of our own there, whatever other tests left
    reader = _subscriber("fr", department)
    db.session.commit()
    incident = {"department": department}
    alert = _alert_of(report_in("published", **_with_phone(phone), incident=incident))
    assert alert.severity == "risky" and alert.reports_count == 1
    later = report_in("approved", **_with_phone(phone))
    moderator = user("demo-moderator")
    db.session.execute(update(Delivery).where(Delivery.alert_id == alert.id).values(status="sent"))
    sent_to = db.session.scalars(
        select(Delivery.recipient_key).where(
            Delivery.alert_id == alert.id, Delivery.subscriber_id.is_not(None)
        )
    ).all()

    version = alerts.attach_report(alert, later, moderator, severity="dangerous", notify=True)
    db.session.commit()

    assert alert.reports_count == 2 and alert.severity == "dangerous"
    assert later.status == "published" and later in alert.reports
    assert version.kind == "strengthening" and version.changes == ["severity", "reports_count"]
    assert [m.reports_count for m in alerts.check_identifier(phone, "phone").matches] == [2]
    assert alerts.feed_item(alert, "fr")["reports_count"] == 2
    updates = db.session.scalars(
        select(Delivery).where(Delivery.alert_id == alert.id, Delivery.purpose == "update")
    ).all()
    assert f"s{reader.id}" in sent_to and updates  # the update is really exercised
    assert {d.alert_version for d in updates} == {2}
    assert sorted({d.recipient_key for d in updates if d.subscriber_id}) == sorted(set(sent_to))
    content = alerts.content_of(alert)
    assert "reported 2 times" in render_revision_sms(content, "en", "update")
    assert "сообщили 2 раза" in render_revision_sms(content, "ru", "update")
    # Attaching it twice, lowering the severity, or an unapproved report: refused.
    with pytest.raises(alerts.AlertError):
        alerts.attach_report(alert, later, moderator)
    db.session.rollback()
    with pytest.raises(alerts.AlertError):
        alerts.attach_report(
            alert, report_in("approved", **_with_phone(phone)), moderator, severity="nuisance"
        )
    db.session.rollback()
    with pytest.raises(alerts.AlertError):
        alerts.attach_report(alert, report_in("in_review", **_with_phone(phone)), moderator)
    db.session.rollback()
    assert alert.reports_count == 2


def test_attaching_without_notice_sends_nothing(app_context):
    phone = unique_phone()
    alert = _published(phone)
    db.session.execute(update(Delivery).where(Delivery.alert_id == alert.id).values(status="sent"))
    later = report_in("approved", **_with_phone(phone))
    version = alerts.attach_report(alert, later, user("demo-moderator"), notify=False)
    db.session.commit()
    assert version.notices == 0 and alert.reports_count == 2
    assert not db.session.scalars(
        select(Delivery).where(Delivery.alert_id == alert.id, Delivery.purpose == "update")
    ).all()


# --- retraction frees the source reports -----------------------------------------------------


def test_after_retraction_the_reports_can_feed_a_new_alert(app_context):
    phone = unique_phone()
    report = report_in("published", **_with_phone(phone))
    first = _alert_of(report)
    moderator = user("demo-moderator")
    alerts.retract(first, moderator, "Wrong man in the description")
    db.session.commit()
    assert report.status == "archived" and alerts.is_freed(report)
    assert report in alerts.reports_awaiting_alert(limit=100000)

    second = alerts.compose([report], moderator)
    assert report.status == "approved"
    alerts.publish(second, moderator)
    db.session.commit()
    assert report.status == "published" and second.status == "published"
    assert _matches(phone) == [second.reference]
    assert not alerts.is_freed(report)
    actions = [event.action for event in moderation.history(report)]
    assert actions[-2:] == ["reopen", "publish"]


def test_an_expired_alerts_reports_are_not_freed(app_context):
    report = report_in("published")
    alert = _alert_of(report)
    alerts.expire_due_alerts(now=alert.expires_at + dt.timedelta(seconds=1))
    db.session.commit()
    assert report.status == "archived" and not alerts.is_freed(report)
    with pytest.raises(alerts.AlertError):
        alerts.compose([report], user("demo-moderator"))
    db.session.rollback()


# --- the screens -----------------------------------------------------------------------------


def test_the_moderator_corrects_through_a_confirmation_and_sees_both_versions(app, login_as):
    wrong, right = unique_phone(), unique_phone()
    with app.app_context():
        alert = _published(wrong)
        reference, version_id = alert.reference, alert.version_id
        keep = [str(row.id) for row in alert.identifiers if row.kind != "phone"]
        db.session.remove()
    client = login_as("demo-moderator")
    page = f"/composer/correct/{reference}"
    assert client.get(page).status_code == 200
    form = {
        "csrf_token": csrf_token(client, page),
        "version": version_id,
        "severity": "risky",
        "summary": "",
        "keep_identifiers": keep,
        "extra_kind_0": "phone",
        "extra_value_0": right,
        "reason": "Un chiffre faux",
    }
    confirm = client.post(page, data=form)
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "confirm-consequences" in html
    assert "SMS" in html and "e-mail" in html
    with app.app_context():
        assert alerts.get_alert(reference).versions == []  # nothing changed before confirming
        db.session.remove()
    done = client.post(page, data={**form, "confirmed": "1"})
    assert done.status_code == 302 and done.headers["Location"].endswith("#history")
    shown = client.get(f"/alerts/show/{reference}").get_data(as_text=True)
    assert _shown(right) in shown and _shown(wrong) in shown and "Un chiffre faux" in shown
    # Staff who are not moderators read the live alert, not its history.
    relay = login_as("demo-relay").get(f"/alerts/show/{reference}").get_data(as_text=True)
    assert _shown(right) in relay and _shown(wrong) not in relay


def _attachment(app, login_as, severity: str) -> tuple:
    """A live alert, a later approved report about the same phone, the moderator signed in
    (French) and the attach form: (client, alert reference, report reference, form)."""
    phone = unique_phone()
    with app.app_context():
        alert = _published(phone)
        later = report_in("approved", **_with_phone(phone))
        reference, later_reference, version_id = alert.reference, later.reference, alert.version_id
        assert alert.severity not in ("nuisance", "dangerous")  # both directions testable
        db.session.remove()
    client = login_as("demo-moderator")
    client.get("/lang/fr")
    form = {
        "csrf_token": csrf_token(client, f"/alerts/show/{reference}"),
        "version": version_id,
        "report": later_reference,
        "severity": severity,
        "notify": "1",
    }
    return client, reference, later_reference, form


def test_attaching_from_the_alert_page_asks_confirmation_first(app, login_as):
    client, reference, later_reference, form = _attachment(app, login_as, "dangerous")
    confirm = client.post(f"/composer/attach/{reference}", data=form)
    assert confirm.status_code == 200 and later_reference in confirm.get_data(as_text=True)
    done = client.post(f"/composer/attach/{reference}", data={**form, "confirmed": "1"})
    assert done.status_code == 302
    with app.app_context():
        alert = alerts.get_alert(reference)
        assert alert.reports_count == 2 and alert.severity == "dangerous"
        assert [v.kind for v in alert.versions] == ["strengthening"]
        db.session.remove()
    missing = client.post(f"/composer/attach/{reference}", data={**form, "report": "J-nothing"})
    assert missing.status_code == 302


def test_a_correction_that_would_be_refused_is_refused_before_the_confirmation(app, login_as):
    """The confirmation ("3 SMS and 12 emails will be sent") is offered only for a change that
    will be accepted: a correction that changes nothing is refused at once, with the form."""
    phone = unique_phone()
    with app.app_context():
        alert = _published(phone)
        reference, version_id = alert.reference, alert.version_id
        keep = [str(row.id) for row in alert.identifiers]
        severity, summary = alert.severity, alert.summary
        db.session.remove()
    client = login_as("demo-moderator")
    client.get("/lang/fr")
    page = f"/composer/correct/{reference}"
    form = {
        "csrf_token": csrf_token(client, page),
        "version": version_id,
        "severity": severity,
        "summary": summary or "",
        "keep_identifiers": keep,
        "reason": "Relecture",
    }
    answer = client.post(page, data=form)
    html = answer.get_data(as_text=True)
    assert "confirm-consequences" not in html and 'id="correction-form"' in html
    assert "rien à corriger" in html
    with app.app_context():
        assert alerts.get_alert(reference).versions == []
        db.session.remove()


def test_an_attachment_that_would_be_refused_is_refused_before_the_confirmation(app, login_as):
    # lower than the alert's severity: refused
    client, reference, _later, form = _attachment(app, login_as, "nuisance")
    show = f"/alerts/show/{reference}"
    answer = client.post(f"/composer/attach/{reference}", data=form)
    assert answer.status_code == 302 and "#strengthen" in answer.headers["Location"]
    flashed = client.get(show).get_data(as_text=True)
    assert "La gravité peut être relevée, pas abaissée." in flashed
    with app.app_context():
        alert = alerts.get_alert(reference)
        assert alert.reports_count == 1 and alert.versions == []
        db.session.remove()


def test_versions_reseal_with_key_rotation(app_context):
    """A version's sealed identifiers follow a rotation of the root key: re-sealed under the
    new key and still shown in the alert's history."""
    from backoffice.services.key_rotation import rotate

    phone, corrected = unique_phone(), unique_phone()
    alert = _published(phone)
    alerts.correct(alert, user("demo-moderator"), _correction(alert, corrected), "Chiffre")
    db.session.commit()
    version_id = alert.versions[0].id
    sealed_before = alert.versions[0].identifiers_sealed
    with new_root_key(app_context) as new_keyring:
        assert rotate(new_keyring, settle_seconds=0) >= 1
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(AlertVersion, version_id).identifiers_sealed != sealed_before
        shown = {
            n
            for v in alerts.version_history(alert, user("demo-moderator"))
            for _kind, n in v.identifiers
        }
        assert _shown(phone) in shown and _shown(corrected) in shown


def test_the_correction_reaches_e_mail_recipients_in_their_language(app, app_context, monkeypatch):
    department = "972"  # Martinique: few other tests' subscribers there
    reader = subscribers.register(
        {
            "pseudonym": "Test",
            "phone": "",
            "email": f"uk-{uuid.uuid4().hex[:10]}@example.org",
            "language": "uk",
            "departments": department,
        },
        organisation(AIDES).id,
        validate_now=True,
    )
    db.session.commit()
    address = subscribers.contact_for_dispatch(reader, "email")
    wrong, right = unique_phone(), unique_phone()
    incident = {"department": department, "city": "Fort-de-France"}
    alert = _alert_of(report_in("published", **_with_phone(wrong), incident=incident))
    server = SmtpServer()
    server.start()
    try:
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
        monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 3)
        _head_of_queue(alert)
        dispatch.dispatch_due()
        first = [s for _m, to, s, _msg in server.recorder.received if to == address]
        assert len(first) == 1
        alerts.correct(alert, user("demo-moderator"), _correction(alert, right), "Typo")
        db.session.commit()
        _head_of_queue(alert)
        dispatch.dispatch_due()
        dispatch.dispatch_due()
        mine = [(s, msg) for _m, to, s, msg in server.recorder.received if to == address]
    finally:
        server.stop()
    assert len(mine) == 2
    subject, message = mine[1]
    assert subject.startswith("Виправлення: ") and subject.endswith(first[0])
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith(f"Виправлення попередження {alert.reference}")
    assert _shown(right) in body and _shown(wrong) not in body


def test_a_second_correction_cancels_the_first_notice_still_waiting(app_context):
    _subscriber("bg", "75")
    db.session.commit()
    phone = unique_phone()
    alert = _published(phone)
    db.session.execute(update(Delivery).where(Delivery.alert_id == alert.id).values(status="sent"))
    moderator = user("demo-moderator")
    alerts.correct(alert, moderator, _correction(alert, unique_phone()), "First typo")
    first = db.session.scalars(
        select(Delivery).where(Delivery.alert_id == alert.id, Delivery.alert_version == 2)
    ).all()
    alerts.correct(alert, moderator, _correction(alert, unique_phone()), "Second typo")
    db.session.commit()
    third = db.session.scalars(
        select(Delivery).where(Delivery.alert_id == alert.id, Delivery.alert_version == 3)
    ).all()
    assert first and {(d.status, d.error_code) for d in first} == {("cancelled", "superseded")}
    assert len(third) == len(first) and {d.status for d in third} <= {"queued"}
    assert [v.number for v in alert.versions] == [1, 2] and alert.version_number == 3
