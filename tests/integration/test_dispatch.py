"""The outbox: fan-out, claiming, sending through a real SMTP server and a real HTTP gateway,
retries, cancellations, and the delivery view."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from backoffice import jobs
from backoffice.demo import ACCEPTESS, AIDES
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import AlertDispatch, Delivery
from backoffice.models.subscriber import Subscriber
from backoffice.services import dispatch, outbox, subscribers
from backoffice.services.sms_encoding import sms_parts
from tests.conftest import csrf_token
from tests.integration import dispatch_support
from tests.integration.dispatch_support import (
    SmsGateway,
    SmtpServer,
    make_alert,
    organisation,
    unique_email,
    unique_mobile,
)

HOUR = dt.timedelta(hours=1)


smtp = dispatch_support.smtp  # the fixture


def subscriber(
    org_name=AIDES, *, language="fr", departments="75", sms=True, email=False, status="active"
):
    data = {
        "pseudonym": "Test",
        "phone": unique_mobile() if sms else "",
        "email": unique_email() if email else "",
        "language": language,
        "departments": departments,
    }
    row = subscribers.register(data, organisation(org_name).id, validate_now=status != "pending")
    if status == "paused":
        subscribers.pause(row)
    elif status == "unsubscribed":
        subscribers.unsubscribe(row, "staff")
    db.session.flush()
    return row


def rows_of(alert, subscriber_row):
    return {
        (d.channel, d.language)
        for d in db.session.scalars(
            select(Delivery).where(
                Delivery.alert_id == alert.id, Delivery.subscriber_id == subscriber_row.id
            )
        )
    }


def deliveries(alert) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).where(Delivery.alert_id == alert.id)))


def first_in_queue(alert) -> None:
    """Put this alert's queued rows at the head of the queue, due now.

    The database is shared by the whole test session: other tests' SMS may be queued too,
    and a failing gateway stops a batch after two errors (the rest waits), so the row under
    test must be the one the worker tries first.
    """
    db.session.execute(
        update(Delivery)
        .where(Delivery.alert_id == alert.id, Delivery.status == "queued")
        .values(next_attempt_at=dt.datetime(2000, 1, 1))
    )
    db.session.commit()


# --- fan-out -----------------------------------------------------------------------------------


def test_fan_out_reaches_active_subscribers_of_the_departments_on_each_channel(app_context):
    both = subscriber(language="pt", departments="75", email=True)
    everywhere = subscriber(language="zh", departments="all")
    elsewhere = subscriber(departments="13")
    pending = subscriber(departments="93", status="pending")
    paused = subscriber(departments="93", status="paused")
    gone = subscriber(departments="75", status="unsubscribed")
    aides = organisation(AIDES)
    aides.alert_email = "alertes-aides@example.org"
    alert = make_alert(["75", "93"])

    written = outbox.enqueue_alert(alert)

    assert rows_of(alert, both) == {("sms", "pt"), ("email", "pt")}
    assert rows_of(alert, everywhere) == {("sms", "zh")}
    for nobody in (elsewhere, pending, paused, gone):
        assert rows_of(alert, nobody) == set()
    partner = db.session.scalars(
        select(Delivery).where(Delivery.alert_id == alert.id, Delivery.partner_id == aides.id)
    ).all()
    assert [(d.channel, d.language, d.recipient_key) for d in partner] == [
        ("email", "fr", f"o{aides.id}")
    ]
    rows = deliveries(alert)
    assert written == len(rows)
    assert all(d.status == "queued" and d.attempts == 0 for d in rows)
    assert len({d.idempotency_key for d in rows}) == len(rows)  # one random key each
    assert db.session.get(AlertDispatch, alert.id).recipients == written
    # Publication and the safety net may both call it: the second call writes nothing.
    assert outbox.enqueue_alert(alert) == 0
    assert len(deliveries(alert)) == written
    db.session.rollback()


def test_safety_net_fans_out_recent_published_alerts_left_without_an_outbox(app_context):
    someone = subscriber(departments="31")
    now = utcnow()
    due = make_alert(["31"], dispatch_requested_at=now - dt.timedelta(minutes=5))
    old = make_alert(["31"], dispatch_requested_at=now - dt.timedelta(days=10))
    draft = make_alert(["31"], status="draft", dispatch_requested_at=now)

    outbox.enqueue_pending_alerts(now)

    assert rows_of(due, someone) == {("sms", "fr")}
    assert rows_of(old, someone) == set()
    assert rows_of(draft, someone) == set()
    db.session.rollback()


# --- claiming ----------------------------------------------------------------------------------


def test_concurrent_workers_claim_disjoint_batches(app):
    long_ago = dt.datetime(2001, 1, 1)
    with app.app_context():
        alert = make_alert(["75"])
        for number in range(60):
            db.session.add(
                Delivery(
                    alert_id=alert.id,
                    recipient_key=f"t{number}",
                    channel="email",
                    language="fr",
                    status="queued",
                    next_attempt_at=long_ago,
                    idempotency_key=f"claim-test-{alert.id}-{number}",
                )
            )
        db.session.commit()
        alert_id = alert.id
    claimed: list[list[int]] = []
    errors: list[Exception] = []

    def worker():
        try:
            with app.app_context():
                while True:
                    batch = dispatch.claim(7, now=long_ago + HOUR)
                    if not batch:
                        return
                    claimed.append([delivery_id for delivery_id, _attempts in batch])
                    db.session.remove()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    ids = [delivery_id for batch in claimed for delivery_id in batch]
    with app.app_context():
        mine = {
            d.id: d
            for d in db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        }
        assert len(ids) == len(set(ids)), "a row was claimed twice"
        assert set(mine) <= set(ids)
        assert all(d.status == "sending" and d.attempts == 1 for d in mine.values())
        assert all(d.next_attempt_at > long_ago + HOUR for d in mine.values())  # the lease


# --- sending -----------------------------------------------------------------------------------


def test_emails_go_out_once_each_and_a_malformed_address_fails_alone(app, app_context, smtp):
    good = [subscriber(language=lang, sms=False, email=True) for lang in ("fr", "pt", "ar")]
    malformed = subscriber(sms=False, email=True)
    malformed.email = "no-at-sign.example.org"  # a legacy row the form would have refused
    refused = subscriber(sms=False, email=True)
    refused.email = unique_email().replace("example.org", "refused.example.net")
    smtp.recorder.refuse.add("refused.example.net")
    alert = make_alert(["75"])
    outbox.enqueue_alert(alert)
    db.session.commit()

    dispatch.dispatch_due()

    by_subscriber = {d.subscriber_id: d for d in deliveries(alert) if d.subscriber_id}
    for row in good:
        delivery = by_subscriber[row.id]
        assert delivery.status == "sent"
        assert delivery.provider_message_id == f"<{delivery.idempotency_key}@jasmine.invalid>"
    bad = by_subscriber[malformed.id]
    assert (bad.status, bad.error_code) == ("failed", "invalid_address")
    assert "@" in bad.last_error and "no-at-sign" not in bad.last_error
    bounced = by_subscriber[refused.id]
    assert (bounced.status, bounced.error_code) == ("failed", "address_refused")
    assert bounced.last_error.startswith("550") and "refused.example.net" not in bounced.last_error
    received = smtp.recorder.message_ids_by_recipient()
    for row in good:
        address = subscribers.contact_for_dispatch(row, "email")
        assert received[address] == {by_subscriber[row.id].provider_message_id}
    # In her language, with a one-click way out that matches her own link.
    messages = {to: m for _id, to, _s, m in smtp.recorder.received}
    portuguese = messages[subscribers.contact_for_dispatch(good[1], "email")]
    assert portuguese["Content-Language"] == "pt"
    unfolded = "".join(portuguese["List-Unsubscribe"].split())  # long headers are folded
    assert unfolded == f"<{subscribers.unsubscribe_url(good[1])}>"
    assert subscribers.unsubscribe_url(good[1]) in portuguese.get_payload(decode=True).decode()
    reasons = {r["code"]: r for r in dispatch.failure_reasons(alert.id)}
    assert reasons["invalid_address"]["count"] == 1
    assert reasons["address_refused"]["count"] == 1


def test_partners_get_the_full_alert_with_the_printable_sheet(app, app_context, smtp):
    acceptess = organisation(ACCEPTESS)
    acceptess.alert_email = unique_email("partner")
    alert = make_alert(["95"])
    outbox.enqueue_alert(alert)
    db.session.commit()

    jobs.dispatch_deliveries()  # the job: the dispatch rules, the sheet from reports_pdf

    partner_rows = [d for d in deliveries(alert) if d.partner_id == acceptess.id]
    assert [d.status for d in partner_rows] == ["sent"]
    message = next(m for _id, to, _s, m in smtp.recorder.received if to == acceptess.alert_email)
    assert alert.reference in message.get_body(("plain",)).get_content()
    attachments = [part for part in message.iter_attachments()]
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    assert attachments[0].get_payload(decode=True).startswith(b"%PDF")
    acceptess.alert_email = None
    db.session.commit()


def test_sms_gateway_500_then_timeout_then_accepts_sends_the_message_once(
    app, app_context, monkeypatch
):
    with SmsGateway(script=["500", "timeout", "ok"], slow_seconds=1.2) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        monkeypatch.setitem(app.config, "SMS_GATEWAY_TIMEOUT", 0.5)
        worker = subscriber(language="ru", departments="67")
        alert = make_alert(["67"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        t0 = utcnow()

        first_in_queue(alert)
        dispatch.dispatch_due(now=t0)
        (delivery,) = deliveries(alert)
        assert (delivery.status, delivery.attempts, delivery.error_code) == (
            "queued",
            1,
            "gateway_unavailable",
        )
        assert delivery.next_attempt_at > t0  # exponential backoff, not at once

        first_in_queue(alert)
        dispatch.dispatch_due(now=t0 + HOUR)
        (delivery,) = deliveries(alert)
        assert (delivery.status, delivery.attempts, delivery.error_code) == (
            "queued",
            2,
            "gateway_timeout",
        )

        first_in_queue(alert)
        dispatch.dispatch_due(now=t0 + 2 * HOUR)
        (delivery,) = deliveries(alert)
        assert (delivery.status, delivery.attempts) == ("sent", 3)
        mine = [h for h in gateway.handset if h[2] == delivery.idempotency_key]
        assert len(mine) == 1, "the phone received the alert more than once"
        assert gateway.submissions[delivery.idempotency_key] == 3
        assert delivery.provider_message_id == gateway.taken[delivery.idempotency_key]
        to, text, _reference = mine[0]
        assert to == subscribers.contact_for_dispatch(worker, "phone")
        assert "STOP" in text
        encoding, segments, _count = sms_parts(text)
        assert encoding == "UCS-2" and delivery.segments == segments


def test_sms_in_latin_languages_fits_gsm7_and_a_refused_number_fails(app, app_context, monkeypatch):
    with SmsGateway(script=["ok"]) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        romanian = subscriber(language="ro", departments="44")
        alert = make_alert(["44"], violence_types=["theft"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        dispatch.dispatch_due()
        (delivery,) = [d for d in deliveries(alert) if d.subscriber_id == romanian.id]
        assert delivery.status == "sent"
        text = next(t for _to, t, ref in gateway.handset if ref == delivery.idempotency_key)
        assert sms_parts(text)[0] == "GSM-7"
        assert "STOP" in text
    with SmsGateway(script=["400"]) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        refused = subscriber(language="fr", departments="45")
        alert = make_alert(["45"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        dispatch.dispatch_due()
        (delivery,) = [d for d in deliveries(alert) if d.subscriber_id == refused.id]
        assert (delivery.status, delivery.error_code) == ("failed", "gateway_refused")
        assert delivery.last_error.startswith("HTTP 400")


def test_unreachable_server_spends_no_attempt_and_the_reason_shows(app, app_context, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_PORT", SmtpServer().port)  # nobody listens there
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 2)
    row = subscriber(sms=False, email=True, departments="21")
    alert = make_alert(["21"])
    outbox.enqueue_alert(alert)
    db.session.commit()
    dispatch.dispatch_due()
    (delivery,) = [d for d in deliveries(alert) if d.subscriber_id == row.id]
    assert (delivery.status, delivery.attempts, delivery.error_code) == (
        "queued",
        0,
        "smtp_unavailable",
    )


def test_retracted_alert_and_paused_subscriber_are_not_sent(app, app_context, smtp):
    paused_later = subscriber(sms=False, email=True, departments="22")
    alert = make_alert(["22"])
    outbox.enqueue_alert(alert)
    subscribers.pause(paused_later)
    retracted = make_alert(["22"])
    active = subscriber(sms=False, email=True, departments="22")
    outbox.enqueue_alert(retracted)
    retracted.status = "retracted"
    db.session.commit()

    dispatch.dispatch_due()

    (first,) = [d for d in deliveries(alert) if d.subscriber_id == paused_later.id]
    assert (first.status, first.error_code) == ("cancelled", "subscriber_paused")
    second = [d for d in deliveries(retracted) if d.subscriber_id == active.id]
    assert [(d.status, d.error_code) for d in second] == [("cancelled", "alert_withdrawn")]
    address = subscribers.contact_for_dispatch(active, "email")
    assert address not in smtp.recorder.message_ids_by_recipient()


def test_attempts_run_out_then_a_moderator_retries_from_the_delivery_view(
    app, login_as, monkeypatch
):
    with SmsGateway(script=["500"]) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        monkeypatch.setitem(app.config, "DISPATCH_MAX_ATTEMPTS", 2)
        with app.app_context():
            row = subscriber(departments="2A")
            alert = make_alert(["2A"])
            outbox.enqueue_alert(alert)
            db.session.commit()
            alert_id, t0 = alert.id, utcnow()
            first_in_queue(alert)
            dispatch.dispatch_due(now=t0)
            first_in_queue(alert)
            dispatch.dispatch_due(now=t0 + HOUR)
            (delivery,) = [d for d in deliveries(alert) if d.subscriber_id == row.id]
            assert (delivery.status, delivery.attempts) == ("failed", 2)
            assert delivery.last_error.startswith("Gave up after 2 attempts")
        moderator = login_as("demo-moderator")
        page = moderator.get(f"/deliveries/alert/{alert_id}")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "HTTP 500" in body and "retry" in body
        token = csrf_token(moderator, f"/deliveries/alert/{alert_id}")
        response = moderator.post(f"/deliveries/alert/{alert_id}/retry", data={"csrf_token": token})
        assert response.status_code == 302
        with app.app_context():
            (delivery,) = [
                d
                for d in deliveries(db.session.get(type(alert), alert_id))
                if d.subscriber_id == row.id
            ]
            assert (delivery.status, delivery.attempts) == ("queued", 0)


def test_delivery_view_and_progress_for_moderators_and_admins_only(app, login_as):
    with app.app_context():
        row = subscriber(departments="2B")
        alert = make_alert(["2B"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        alert_id = alert.id
        expected = len(deliveries(alert))
        pseudonym_marker = row.pseudonym
    moderator = login_as("demo-moderator")
    progress = moderator.get(f"/deliveries/alert/{alert_id}/progress.json").get_json()
    assert progress["total"] == expected and progress["queued"] == expected
    assert progress["done"] is False and progress["percent"] == 0
    page = moderator.get(f"/deliveries/alert/{alert_id}").get_data(as_text=True)
    assert 'id="dispatch-progress"' in page and "dispatch/progress.js" in page
    assert "<script>" not in page.split("dispatch-progress")[1]  # no inline script (CSP)
    assert moderator.get("/static/dispatch/progress.js").status_code == 200
    assert moderator.get("/deliveries/alert/999999999").status_code == 404
    assert login_as("demo-admin").get(f"/deliveries/alert/{alert_id}").status_code == 200
    for who in ("demo-social-a", "demo-coordinator", "demo-relay", "demo-outreach"):
        client = login_as(who)
        assert client.get(f"/deliveries/alert/{alert_id}/progress.json").status_code in (302, 403)
        token = csrf_token(client, "/account/second-factor/")
        refused = client.post(f"/deliveries/alert/{alert_id}/retry", data={"csrf_token": token})
        assert refused.status_code in (302, 400, 403)
    assert pseudonym_marker  # the view never lists subscribers by name (see the template)


def test_job_store_holds_the_jobs_and_the_dispatch_job_is_registered(app):
    from backoffice import jobs

    assert "dispatch_deliveries" in jobs.JOBS
    scheduler = jobs.build_scheduler(app)
    scheduler.start(paused=True)
    try:
        stored = {job.id for job in scheduler.get_jobs()}
        assert "dispatch_deliveries" in stored
        with app.app_context():
            count = db.session.execute(
                db.text("SELECT count(*) FROM apscheduler_jobs WHERE id = 'dispatch_deliveries'")
            ).scalar()
        assert count == 1  # persisted in the application database
    finally:
        scheduler.shutdown(wait=False)
    with app.app_context():
        db.session.execute(select(Subscriber.id).limit(1))  # the app's engine still works


def test_welcome_and_goodbye_sms_go_out_in_her_language_even_after_stop(
    app, app_context, monkeypatch
):
    from backoffice.services.alert_text import render_subscription_sms, render_unsubscribed_sms

    with SmsGateway(script=["ok"]) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        row = subscriber(language="es", departments="64 65")  # validated: welcome queued
        db.session.commit()
        subscribers.unsubscribe(row, "sms_stop")  # goodbye queued, alerts cancelled
        db.session.commit()
        notices = db.session.scalars(
            select(Delivery).where(Delivery.subscriber_id == row.id).order_by(Delivery.id)
        ).all()
        assert [(d.purpose, d.status) for d in notices] == [
            ("welcome", "cancelled"),
            ("goodbye", "queued"),
        ]
        db.session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == row.id, Delivery.purpose == "welcome")
            .values(status="queued", next_attempt_at=dt.datetime(2000, 1, 1))
        )
        db.session.commit()
        dispatch.dispatch_due()
        db.session.expire_all()
        texts = {
            d.purpose: next(t for _to, t, ref in gateway.handset if ref == d.idempotency_key)
            for d in db.session.scalars(select(Delivery).where(Delivery.subscriber_id == row.id))
            if d.status == "sent"
        }
    # The goodbye goes out although she is no longer active; the welcome queued again by
    # hand is cancelled at send time, since she left.
    assert texts == {"goodbye": render_unsubscribed_sms("es")}
    welcome = render_subscription_sms(["64", "65"], "es")
    assert "64" in welcome and "STOP" in welcome


def test_the_delivery_page_lists_the_latest_dispatches_with_their_counts(app_context):
    from backoffice.security import OutOfScope

    alert = make_alert(["2B"])
    subscribers.register(
        {"pseudonym": "T", "phone": unique_mobile(), "language": "fr", "departments": "2B"},
        organisation(AIDES).id,
        validate_now=True,
    )
    written = outbox.enqueue_alert(alert)
    db.session.flush()
    rows, counts = dispatch.recent_dispatches(limit=10_000)
    assert alert.id in {a.id for a, _sent in rows}
    assert counts[alert.id] == {"queued": written}
    assert dispatch.dispatched_alert(alert.id) == alert
    with pytest.raises(OutOfScope):
        dispatch.dispatched_alert(10**9)
    db.session.rollback()
