"""OVHcloud, Brevo and Twilio, each against a loopback server speaking its documented API
(``tests/sms_provider_servers.py``): an alert goes out once per phone with the provider's
authentication, sender and encoding; errors are classified (give up, retry, our
credentials); delivery receipts update the delivery; a STOP reply unsubscribes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.subscriber import Subscriber
from backoffice.services import dispatch, outbox, subscribers
from tests.integration.dispatch_support import make_alert
from tests.integration.test_dispatch import subscriber
from tests.sms_provider_servers import BrevoServer, OvhServer, TwilioServer

PUBLIC = "https://jasmine.example"
SECRET = "inbound-secret-for-tests"


def _twilio(server: TwilioServer) -> dict:
    return {
        "SMS_GATEWAY_PROVIDER": "twilio",
        "SMS_GATEWAY_URL": server.base,
        "SMS_GATEWAY_USERNAME": server.sid,
        "SMS_GATEWAY_PASSWORD": server.token,
        "SMS_GATEWAY_SENDER": "Jasmine",
    }


def _ovh(server: OvhServer) -> dict:
    return {
        "SMS_GATEWAY_PROVIDER": "ovh",
        "SMS_GATEWAY_URL": server.base + "/1.0",
        "SMS_GATEWAY_ACCOUNT": server.service,
        "SMS_GATEWAY_USERNAME": server.app_key,
        "SMS_GATEWAY_PASSWORD": server.app_secret,
        "SMS_GATEWAY_TOKEN": server.consumer,
        "SMS_GATEWAY_SENDER": "JASMINE",
    }


def _brevo(server: BrevoServer) -> dict:
    return {
        "SMS_GATEWAY_PROVIDER": "brevo",
        "SMS_GATEWAY_URL": server.base + "/v3",
        "SMS_GATEWAY_TOKEN": server.key,
        "SMS_GATEWAY_SENDER": "Jasmine",
    }


PROVIDERS = {
    "twilio": (TwilioServer, _twilio),
    "ovh": (OvhServer, _ovh),
    "brevo": (BrevoServer, _brevo),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request, app, monkeypatch):
    server_class, settings = PROVIDERS[request.param]
    server = server_class()
    for name, value in {
        **settings(server),
        "SMS_GATEWAY_TOKEN": settings(server).get("SMS_GATEWAY_TOKEN"),
        "SMS_INBOUND_SECRET": SECRET,
        "SMS_WEBHOOK_BASE_URL": PUBLIC,
        "SMS_GATEWAY_TIMEOUT": 3,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    yield request.param, server
    server.stop()


def _alert_deliveries(alert_id: int) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)))


def _publish(departments: str, *people) -> int:
    alert = make_alert([departments])
    outbox.enqueue_alert(alert)
    db.session.commit()
    # The database is shared with other tests, whose deliveries may be due too: dispatch until
    # this alert's are no longer waiting (each run stops at its time budget).
    alert_id, mine = alert.id, {person.id for person in people}
    for _ in range(20):
        dispatch.dispatch_due(now=utcnow())
        waiting = [d for d in _alert_deliveries(alert_id) if d.subscriber_id in mine]
        if not any(d.status == "queued" for d in waiting):
            break
    return alert_id


def _phone(server, delivery: Delivery) -> str:
    return next(m["to"] for m in server.sent if m["id"] == delivery.provider_message_id)


def test_an_alert_goes_once_per_phone_with_the_providers_request(app, app_context, provider):
    name, server = provider
    french, russian = (
        subscriber(language="fr", departments="58"),
        subscriber(language="ru", departments="58"),
    )
    alert_id = _publish("58", french, russian)
    mine = (french.id, russian.id)  # the database is shared: others live in 58 too
    rows = {d.subscriber_id: d for d in _alert_deliveries(alert_id) if d.subscriber_id in mine}
    assert {d.status for d in rows.values()} == {"sent"}, [d.last_error for d in rows.values()]
    assert server.refused_auth == 0
    alerts = [m for m in server.sent if m["id"] in {d.provider_message_id for d in rows.values()}]
    assert len(alerts) == 2, [(m["id"], m["to"], m["text"][:20]) for m in server.sent]
    for person in (french, russian):
        delivery = rows[person.id]
        message = next(m for m in alerts if m["id"] == delivery.provider_message_id)
        phone = subscribers.contact_for_dispatch(person, "phone")
        assert message["to"] in (phone, phone.lstrip("+"))
        assert delivery.segments >= 1
    russian_message = next(m for m in alerts if m["id"] == rows[russian.id].provider_message_id)
    french_message = next(m for m in alerts if m["id"] == rows[french.id].provider_message_id)
    if name == "ovh":
        assert (french_message["job"]["coding"], russian_message["job"]["coding"]) == (
            "7bit",
            "8bit",
        )
        assert french_message["job"]["sender"] == "JASMINE"
        assert french_message["job"]["tag"] == rows[french.id].idempotency_key
    if name == "brevo":
        payload = russian_message["payload"]
        assert payload["unicodeEnabled"] is True and payload["type"] == "transactional"
        assert payload["webUrl"] == f"{PUBLIC}/webhooks/sms-provider/brevo/status?secret={SECRET}"
        assert french_message["payload"]["unicodeEnabled"] is False
    if name == "twilio":
        form = french_message["form"]
        assert form["From"] == "Jasmine"
        assert form["StatusCallback"] == f"{PUBLIC}/webhooks/sms-provider/twilio/status"


def _receipt(client, name: str, server, provider_id: str, delivered: bool):
    url = f"/webhooks/sms-provider/{name}/status"
    if name == "twilio":
        params = {
            "MessageSid": provider_id,
            "MessageStatus": "delivered" if delivered else "undelivered",
            "ErrorCode": "" if delivered else "30005",
        }
        signature = server.signature(PUBLIC + url, params)
        return client.post(url, data=params, headers={"X-Twilio-Signature": signature})
    if name == "ovh":
        return client.get(
            url,
            query_string={"id": provider_id, "dlr": "1" if delivered else "2", "secret": SECRET},
        )
    body = {
        "messageId": int(provider_id),
        "msg_status": "delivered" if delivered else "hardBounce",
        "to": "33600000000",
    }
    return client.post(f"{url}?secret={SECRET}", json=body)


def test_delivery_receipts_update_the_delivery(app, app_context, provider):
    name, server = provider
    reached, unknown_number = subscriber(departments="59"), subscriber(departments="59")
    alert_id = _publish("59", reached, unknown_number)
    rows = {d.subscriber_id: d for d in _alert_deliveries(alert_id)}
    client = app.test_client()
    assert (
        _receipt(client, name, server, rows[reached.id].provider_message_id, True).status_code
        == 200
    )
    assert (
        _receipt(
            client, name, server, rows[unknown_number.id].provider_message_id, False
        ).status_code
        == 200
    )
    rows = {d.subscriber_id: d for d in _alert_deliveries(alert_id)}
    assert (rows[reached.id].status, rows[reached.id].receipt_status) == ("sent", "delivered")
    failed = rows[unknown_number.id]
    assert failed.receipt_status == "failed"
    if name != "ovh":  # OVHcloud's receipts come as GET requests: the receipt columns only
        assert (failed.status, failed.error_code) == ("failed", "sms_undelivered")


def test_webhooks_refuse_a_wrong_signature_or_secret_and_other_providers(
    app, app_context, provider
):
    name, _server = provider
    client = app.test_client()
    url = f"/webhooks/sms-provider/{name}/status"
    if name == "twilio":
        forged = client.post(
            url,
            data={"MessageSid": "SMx", "MessageStatus": "delivered"},
            headers={"X-Twilio-Signature": "AAAA"},
        )
    elif name == "ovh":
        forged = client.get(url, query_string={"id": "1", "dlr": "1", "secret": "guess"})
    else:
        forged = client.post(
            f"{url}?secret=guess", json={"messageId": 1, "msg_status": "delivered"}
        )
    assert forged.status_code == 401
    other = next(p for p in PROVIDERS if p != name)
    assert client.post(f"/webhooks/sms-provider/{other}/status?secret={SECRET}").status_code == 404


def test_a_stop_reply_unsubscribes(app, app_context, provider):
    name, server = provider
    person = subscriber(departments="60")
    db.session.commit()
    phone = subscribers.contact_for_dispatch(person, "phone")
    client = app.test_client()
    url = f"/webhooks/sms-provider/{name}/inbound"
    if name == "twilio":
        params = {"From": phone, "To": "+33700000000", "Body": "STOP", "MessageSid": "SMin"}
        answer = client.post(
            url, data=params, headers={"X-Twilio-Signature": server.signature(PUBLIC + url, params)}
        )
        assert answer.mimetype == "text/xml"
    elif name == "ovh":
        answer = client.post(f"{url}?secret={SECRET}", data={"sender": phone, "message": "Stop"})
    else:
        answer = client.post(
            f"{url}?secret={SECRET}",
            json={"to": phone.lstrip("+"), "reply": "STOP", "messageId": 5},
        )
    assert answer.status_code == 200
    db.session.expire_all()
    assert db.session.get(Subscriber, person.id).status == "unsubscribed"


def test_errors_give_up_retry_or_wait_for_credentials(app, app_context, provider, monkeypatch):
    name, server = provider
    refused, busy = subscriber(departments="61"), subscriber(departments="61")
    phone = {p.id: subscribers.contact_for_dispatch(p, "phone") for p in (refused, busy)}
    key = (lambda number: number.lstrip("+")) if name == "brevo" else (lambda number: number)
    permanent = {
        "twilio": (
            400,
            {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
        ),
        "ovh": (400, {"message": "Invalid receiver"}),
        "brevo": (400, {"code": "invalid_parameter", "message": "Invalid phone number"}),
    }[name]
    server.fail[key(phone[refused.id])] = permanent
    server.fail[key(phone[busy.id])] = (503, {"message": "Service Unavailable"})
    alert_id = _publish("61", refused, busy)
    rows = {d.subscriber_id: d for d in _alert_deliveries(alert_id)}
    assert rows[refused.id].status == "failed"
    assert (rows[busy.id].status, rows[busy.id].attempts) == ("queued", 1)

    # Wrong credentials: nothing is spent, the messages wait.
    credential = {
        "twilio": "SMS_GATEWAY_PASSWORD",
        "ovh": "SMS_GATEWAY_PASSWORD",
        "brevo": "SMS_GATEWAY_TOKEN",
    }[name]
    monkeypatch.setitem(app.config, credential, "wrong")
    server.fail.clear()
    dispatch.dispatch_due(now=utcnow() + dt.timedelta(hours=2))
    busy_row = next(d for d in _alert_deliveries(alert_id) if d.subscriber_id == busy.id)
    assert (busy_row.status, busy_row.attempts, busy_row.error_code) == (
        "queued",
        1,
        "gateway_auth",
    )
