"""The worker's own door (API.md, "Additions for workers"): register with a code, verify,
``/me``, discreet alerts — end to end through the contract client, with a real SMTP server
and an SMS gateway on loopback, and the development outbox."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select, update

from backoffice.demo import AIDES, JASMINE
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.dispatch import Delivery
from backoffice.models.organisation import Organisation
from backoffice.models.subscriber import Subscriber
from backoffice.models.worker_access import PendingRegistration, WorkerToken
from backoffice.services import api_keys, dispatch, outbox, subscribers, worker_access
from tests.integration.dispatch_support import (
    SmsGateway,
    SmtpServer,
    make_alert,
    organisation,
    unique_email,
    unique_mobile,
)

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def new_worker(language: str = "fr", departments: str = "75", **choices):
    """A verified worker of the programme and her token (for tests of ``/me``)."""
    data = {"pseudonym": "Self", "phone": unique_mobile(), "language": language}
    data["departments"] = departments
    subscriber = subscribers.register(data, organisation(JASMINE).id, validate_now=True)
    for name, value in choices.items():
        setattr(subscriber, name, value)
    db.session.flush()
    return subscriber, worker_access.issue_token(subscriber)


@pytest.fixture(scope="module")
def key(app):
    with app.app_context():
        _client, secret = api_keys.create_client(f"worker-tests-{uuid.uuid4().hex[:8]}")
        db.session.commit()
    return secret


@pytest.fixture
def api(app, key):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def call(method: str, path: str, body=None, token: str | None = None):
        extra = {**headers, **({"X-Worker-Token": token} if token else {})}
        if body is None:
            return client.open(f"/api/v1{path}", method=method, headers=extra)
        return client.open(f"/api/v1{path}", method=method, json=body, headers=extra)

    return call


@pytest.fixture
def smtp(app, monkeypatch):
    server = SmtpServer()
    server.start()
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 3)
    yield server.recorder
    server.stop()


@pytest.fixture
def gateway(app, monkeypatch):
    with SmsGateway() as running:
        monkeypatch.setitem(app.config, "SMS_BACKEND", "gateway")
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", running.url)
        yield running


@pytest.fixture
def dev_outbox(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "SMS_BACKEND", "outbox")
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "outbox")
    monkeypatch.setitem(app.config, "MESSAGE_OUTBOX_DIR", str(tmp_path))
    return tmp_path


def registration(channel: str = "sms", contact: str | None = None, **fields) -> dict:
    body = {
        "phone": None,
        "email": None,
        "language": "ro",
        "departments": ["75", "93"],
        "channel": channel,
        "referral_code": None,
        "consent": {"alerts": True},
    }
    body["phone" if channel == "sms" else "email"] = contact
    return body | fields


def sms_code(gateway: SmsGateway, phone: str) -> tuple[str, str]:
    (text,) = [t for to, t, _ref in gateway.handset if to == phone]
    return CODE.search(text).group(1), text


def count_subscribers(app, phone: str) -> int:
    with app.app_context():
        index = subscribers.phone_index(phone)
        return db.session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.phone_index == index)
        )


# --- registration and verification -------------------------------------------------------------


def test_registration_by_email_over_real_smtp_then_her_subscription(app, api, smtp):
    address = unique_email("self")
    answer = api("POST", "/subscriptions", registration("email", address, language="es"))
    assert answer.status_code == 202
    assert answer.json == {"status": "code_sent", "expires_in": 600}
    (message,) = [m for _id, to, _s, m in smtp.received if to == address]
    body = message.get_content()
    assert "tu código es" in body  # in her language
    code = CODE.search(body).group(1)

    verified = api("POST", "/subscriptions/verify", {"email": address, "code": code})
    assert verified.status_code == 200 and verified.json["status"] == "active"
    token = verified.json["worker_token"]
    assert token.startswith("wt_")

    me = api("GET", "/me", token=token).json
    assert me["language"] == "es" and me["departments"] == ["75", "93"]
    assert me["channel"] == "email" and me["discreet"] is False and me["paused"] is False
    assert me["contact"]["phone"] is None
    assert me["contact"]["email"].endswith("@example.org") and "***" in me["contact"]["email"]

    changed = api("PATCH", "/me", {"language": "ro", "departments": ["13"], "paused": True}, token)
    assert changed.status_code == 200
    assert changed.json | {"contact": None} == me | {
        "language": "ro",
        "departments": ["13"],
        "paused": True,
        "contact": None,
    }
    assert api("PATCH", "/me", {"channel": "sms"}, token).json["errors"]["channel"]

    assert api("DELETE", "/me", token=token).status_code == 204
    assert api("GET", "/me", token=token).status_code == 401  # the token stops at once
    with app.app_context():
        gone = db.session.scalar(
            select(Subscriber).where(Subscriber.email_index == subscribers.email_index(address))
        )
        assert gone is None  # her address is erased, its index with it


def test_sms_registration_in_romanian_then_a_discreet_alert(app, api, gateway):
    phone = unique_mobile()
    national = "0" + phone[3:]  # "06…": normalised as intake does
    assert api("POST", "/subscriptions", registration("sms", national)).status_code == 202
    code, text = sms_code(gateway, phone)
    assert "codul tău" in text

    token = api("POST", "/subscriptions/verify", {"phone": national, "code": code}).json[
        "worker_token"
    ]
    me = api("GET", "/me", token=token).json
    assert me["discreet"] is True  # discreet by default for SMS
    assert re.fullmatch(r"\+33 \d \d\d \*\* \*\* \d\d", me["contact"]["phone"])

    with app.app_context():
        alert = make_alert(["93"], violence_types=["rape"])
        outbox.enqueue_alert(alert)
        db.session.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert.id)
            .values(next_attempt_at=dt.datetime(2000, 1, 1))
        )
        reference = alert.reference
        db.session.commit()
        dispatch.dispatch_due(max_seconds=20)
        db.session.commit()
    texts = [t for to, t, _ref in gateway.handset if to == phone and reference in t]
    assert len(texts) == 1
    assert texts[0].startswith("Informație nouă") or texts[0].startswith("Informatie noua")
    assert "viol" not in texts[0].lower()


def test_development_outbox_holds_the_code(app, api, dev_outbox):
    phone = unique_mobile()
    assert api("POST", "/subscriptions", registration("sms", phone)).status_code == 202
    (path,) = [p for p in dev_outbox.iterdir() if f"To: {phone}" in p.read_text("utf-8")]
    head, _, text = path.read_text("utf-8").partition("\n\n")
    assert head.splitlines() == [f"To: {phone}", "Channel: sms", "Language: ro"]
    code = CODE.search(text).group(1)
    verified = api("POST", "/subscriptions/verify", {"phone": phone, "code": code})
    assert verified.status_code == 200


def test_a_registered_number_gets_the_same_answer_and_no_second_subscriber(app, api, gateway):
    """F8 through the API: the answer is the same, nothing is created, and only she learns
    (her message says to manage her subscription; its code opens the one she has)."""
    phone = unique_mobile()
    with app.app_context():
        data = {"pseudonym": "Known", "phone": phone, "language": "pt", "departments": "31"}
        existing = subscribers.register(data, organisation(AIDES).id, validate_now=True)
        db.session.commit()
        existing_id = existing.id
    fresh = unique_mobile()

    first = api("POST", "/subscriptions", registration("sms", phone))
    other = api("POST", "/subscriptions", registration("sms", fresh))
    assert (first.status_code, first.json) == (other.status_code, other.json)

    code, text = sms_code(gateway, phone)
    assert "gerir a sua inscrição" in text or "gerir a sua inscricao" in text  # her language
    assert count_subscribers(app, phone) == 1
    token = api("POST", "/subscriptions/verify", {"phone": phone, "code": code}).json[
        "worker_token"
    ]
    assert count_subscribers(app, phone) == 1
    me = api("GET", "/me", token=token).json
    assert me["departments"] == ["31"] and me["language"] == "pt"  # unchanged
    with app.app_context():
        row = db.session.scalar(select(WorkerToken).where(WorkerToken.subscriber_id == existing_id))
        assert row is not None and token not in row.token_hash  # stored hashed


def test_five_wrong_codes_void_the_registration(app, api, gateway):
    phone = unique_mobile()
    api("POST", "/subscriptions", registration("sms", phone))
    code, _text = sms_code(gateway, phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        refused = api("POST", "/subscriptions/verify", {"phone": phone, "code": wrong})
        assert refused.status_code == 422 and list(refused.json["errors"]) == ["code"]
    late = api("POST", "/subscriptions/verify", {"phone": phone, "code": code})
    assert late.status_code == 422 and late.json == refused.json
    assert count_subscribers(app, phone) == 0
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "registration_code_refused")
        ).all()
        assert events and all(code not in str(e.details) for e in events)


def test_an_unknown_number_and_an_expired_code_answer_like_a_wrong_code(app, api, gateway):
    nobody = api("POST", "/subscriptions/verify", {"phone": unique_mobile(), "code": "123456"})
    phone = unique_mobile()
    api("POST", "/subscriptions", registration("sms", phone))
    code, _text = sms_code(gateway, phone)
    with app.app_context():
        db.session.execute(
            update(PendingRegistration)
            .where(PendingRegistration.contact_index == subscribers.phone_index(phone))
            .values(expires_at=dt.datetime(2000, 1, 1))
        )
        db.session.commit()
    expired = api("POST", "/subscriptions/verify", {"phone": phone, "code": code})
    assert nobody.status_code == expired.status_code == 422
    assert nobody.json == expired.json


def test_a_partner_referral_code_registers_her_with_the_partner(app, api, gateway):
    referral = f"AIDES-{uuid.uuid4().hex[:6]}"
    with app.app_context():
        db.session.execute(
            update(Organisation).where(Organisation.name == AIDES).values(referral_code=referral)
        )
        db.session.commit()
    phone = unique_mobile()
    api("POST", "/subscriptions", registration("sms", phone, referral_code=referral))
    code, _text = sms_code(gateway, phone)
    api("POST", "/subscriptions/verify", {"phone": phone, "code": code})
    with app.app_context():
        her = subscribers.find_by_phone(phone)
        assert her.organisation.name == AIDES and her.status == "active"
        assert her.validated_at is not None


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"channel": "sms", "phone": None, "email": "a@example.org"}, "phone"),
        ({"consent": {"alerts": False}}, "consent.alerts"),
        ({"phone": "01 42 00 00 00"}, "phone"),  # a landline receives no SMS
        ({"departments": []}, "departments"),
        ({"departments": ["99"]}, "departments[0]"),
        ({"language": "de"}, "language"),
    ],
)
def test_bad_registrations_are_refused_field_by_field(api, fields, path):
    body = registration("sms", "06 12 34 56 78") | fields
    refused = api("POST", "/subscriptions", body)
    assert refused.status_code == 422
    assert path in refused.json["errors"], refused.json


def test_me_without_or_with_a_bad_token_is_401(api):
    assert api("GET", "/me").status_code == 401
    assert api("GET", "/me", token="wt_" + "x" * 40).status_code == 401
