"""The intake API contract (shared/API.md): statuses, error shapes, idempotency, rate limit."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
import uuid

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.report import IdempotencyRecord, Report, ReportIdentifier
from tests.conftest import make_app

URL = "/api/v1/reports"
REFERENCE = re.compile(r"J-\d{4}-\d{6}")

# API.md's example body, word for word (dates moved into the past).
EXAMPLE = {
    "language": "fr",
    "channel": "web",
    "incident": {
        "date": "2026-01-20",
        "time": "22:30",
        "department": "75",
        "city": "Paris",
        "context": "indoor_home",
        "violence_types": ["condom_removal", "theft"],
    },
    "narrative": "free text, up to 10,000 characters",
    "aggressor": {
        "description": {
            "gender": "man",
            "age_range": "36-45",
            "height": "tall",
            "build": "heavy",
            "hair": "short brown",
            "distinctive_signs": "tattoo on the left forearm",
            "languages": ["fr"],
        },
        "vehicle": {"make": "Renault", "model": "Clio", "colour": "grey", "plate": "AB-123-CD"},
        "identifiers": [
            {"kind": "phone", "value": "06 12 34 56 78"},
            {"kind": "email", "value": "someone@example.org"},
            {"kind": "pseudonym", "value": "Marc75", "platform": "an ad site"},
        ],
    },
    "victim": {
        "pseudonym": "Lila",
        "contact": {"phone": "07 98 76 54 32", "email": None},
        "preferred_language": "pt",
    },
    "consent": {
        "publish_alert": True,
        "follow_up": True,
        "share_with_partner": False,
        "statistics": True,
    },
    "reporter": {"relation": "self"},
}
MINIMAL = {
    "incident": {"date": "2026-01-05", "department": "13", "violence_types": ["non_payment"]},
    "narrative": "Il est parti sans payer.",
    "consent": {
        "publish_alert": True,
        "follow_up": False,
        "share_with_partner": False,
        "statistics": True,
    },
}


def new_client(app, name: str | None = None):
    from backoffice.services import api_keys

    with app.app_context():
        client, key = api_keys.create_client(name or f"test-{uuid.uuid4().hex[:10]}")
        db.session.commit()
        return client.id, key


@pytest.fixture(scope="module")
def api_key(app):
    return new_client(app)[1]


def auth(key: str, **headers) -> dict:
    return {"Authorization": f"Bearer {key}", **headers}


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message", "errors"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


# --- accepted reports -----------------------------------------------------------------------


def test_the_example_of_the_contract_is_accepted_and_committed(app, client, api_key):
    response = client.post(URL, json=EXAMPLE, headers=auth(api_key))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"reference", "status", "follow_up_code"}
    assert REFERENCE.fullmatch(body["reference"])
    assert body["status"] == "received"
    with app.app_context():  # a fresh session: the report was committed before the 201
        report = db.session.scalar(select(Report).where(Report.reference == body["reference"]))
        assert report.channel == "web"
        assert report.severity == "risky"
        assert report.violence_types == ["condom_removal", "theft"]
        assert report.incident_time == dt.time(22, 30)
        assert report.vehicle == {"make": "Renault", "model": "Clio", "colour": "grey"}
        assert report.consent_publish_alert and not report.consent_share_with_partner
        assert not report.consent_police_or_lawyer
        assert report.redaction_status == "pending"
        kinds = sorted(i.kind for i in report.identifiers)
        assert kinds == ["email", "phone", "plate", "pseudonym"]
        pseudonym = next(i for i in report.identifiers if i.kind == "pseudonym")
        assert pseudonym.platform == "an ad site"


def test_a_report_needs_very_little(client, api_key):
    response = client.post(URL, json=MINIMAL, headers=auth(api_key))
    assert response.status_code == 201
    assert response.get_json()["status"] == "received"


def test_references_differ_and_reveal_nothing(client, api_key):
    first = client.post(URL, json=MINIMAL, headers=auth(api_key)).get_json()["reference"]
    second = client.post(URL, json=EXAMPLE, headers=auth(api_key)).get_json()["reference"]
    assert first != second
    for reference in (first, second):
        assert "75" not in reference.split("-")[0] and REFERENCE.fullmatch(reference)


def test_receiving_is_audited_without_personal_data(app, client, api_key):
    reference = client.post(URL, json=EXAMPLE, headers=auth(api_key)).get_json()["reference"]
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "report_received", AuditEvent.object_id == reference
            )
        )
        assert event.actor_name.startswith("api:")
        recorded = json.dumps(event.details)
    for secret in ("98 76", "987654", "Lila", "612345678", "someone", "Marc75"):
        assert secret not in recorded


# --- 401 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer jas_not-a-real-key", "Basic dXNlcjpwYXNz", "jas_only-the-key"],
)
def test_no_key_or_an_unknown_key_is_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(URL, json=MINIMAL, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_disabled_client_is_401_at_once(app, client):
    client_id, key = new_client(app)
    assert client.post(URL, json=MINIMAL, headers=auth(key)).status_code == 201
    with app.app_context():
        from backoffice.models.api_client import ApiClient

        db.session.get(ApiClient, client_id).active = False
        db.session.commit()
    before = count(app, Report)
    assert_error(client.post(URL, json=MINIMAL, headers=auth(key)), 401, "unauthorized")
    assert count(app, Report) == before


def test_a_staff_session_is_not_a_key(app, login_as):
    moderator = login_as("demo-moderator")
    before = count(app, Report)
    response = moderator.post(URL, json=MINIMAL)
    assert_error(response, 401, "unauthorized")
    assert count(app, Report) == before


def test_api_answers_set_no_session_cookie(client, api_key):
    response = client.post(URL, json=MINIMAL, headers=auth(api_key))
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_unknown_routes_and_methods_answer_json(client, api_key):
    assert_error(client.get(URL, headers=auth(api_key)), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/nothing", headers=auth(api_key)), 404, "not_found")


# --- 400 and 413 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "invalid_json"),
        (b"{not json", "invalid_json"),
        (b'{"narrative": NaN}', "invalid_json"),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        (b"[" * 100_00 + b"]" * 100_00, "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"a string"', "not_an_object"),
        (b"null", "not_an_object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(app, client, api_key, data, code):
    before = count(app, Report)
    response = client.post(URL, data=data, headers=auth(api_key), content_type="application/json")
    assert_error(response, 400, code)
    assert count(app, Report) == before


def test_a_body_over_64_kib_is_413(app, client, api_key):
    body = copy.deepcopy(MINIMAL)
    body["padding"] = "x" * (64 * 1024)
    before = count(app, Report)
    response = client.post(URL, json=body, headers=auth(api_key))
    assert_error(response, 413, "payload_too_large")
    assert count(app, Report) == before


def test_a_chunked_body_over_64_kib_is_413_without_reading_it_all(client, api_key):
    stream = io.BytesIO(b'{"narrative": "' + b"x" * (1024 * 1024) + b'"}')
    response = client.post(
        URL,
        input_stream=stream,
        headers=auth(api_key, **{"Content-Type": "application/json"}),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "payload_too_large")
    assert stream.tell() <= 64 * 1024 + 1


def test_a_bad_idempotency_key_is_400(client, api_key):
    for key in ("x" * 65, "has space", "é"):
        response = client.post(URL, json=MINIMAL, headers=auth(api_key, **{"Idempotency-Key": key}))
        assert_error(response, 400, "invalid_idempotency_key")


# --- 422 ------------------------------------------------------------------------------------


def errors_of(client, key, body) -> dict:
    response = client.post(URL, json=body, headers=auth(key))
    return assert_error(response, 422, "validation_failed")["errors"]


def test_required_fields_are_named_by_path(client, api_key):
    errors = errors_of(client, api_key, {})
    assert set(errors) == {
        "incident.date",
        "incident.department",
        "incident.violence_types",
        "narrative",
        "consent",
    }
    assert all(isinstance(m, list) and m and isinstance(m[0], str) for m in errors.values())


def test_each_consent_item_must_be_answered(client, api_key):
    body = copy.deepcopy(MINIMAL)
    body["consent"] = {"publish_alert": True, "statistics": "yes"}
    errors = errors_of(client, api_key, body)
    assert set(errors) == {"consent.follow_up", "consent.share_with_partner", "consent.statistics"}


def test_invalid_values_are_reported_at_their_path_in_english(client, api_key):
    body = copy.deepcopy(EXAMPLE)
    body["channel"] = "fax"
    body["incident"]["date"] = "20/11/2026"
    body["incident"]["time"] = "25h"
    body["incident"]["department"] = "99"
    body["incident"]["context"] = "beach"
    body["incident"]["violence_types"] = ["theft", "shouting"]
    body["aggressor"]["identifiers"][1]["value"] = "not an email"
    body["aggressor"]["identifiers"].append({"kind": "phone", "value": "06 12 AB"})
    body["aggressor"]["vehicle"]["plate"] = "!"
    body["victim"]["contact"]["phone"] = "12"
    body["victim"]["preferred_language"] = "xx"
    body["reporter"]["relation"] = "cousin"
    response = client.post(URL, json=body, headers=auth(api_key, **{"Accept-Language": "fr"}))
    errors = assert_error(response, 422, "validation_failed")["errors"]
    assert set(errors) == {
        "channel",
        "incident.date",
        "incident.time",
        "incident.department",
        "incident.context",
        "incident.violence_types[1]",
        "aggressor.identifiers[1].value",
        "aggressor.identifiers[3].value",
        "aggressor.vehicle.plate",
        "victim.contact.phone",
        "victim.preferred_language",
        "reporter.relation",
    }
    assert errors["incident.date"] == ["Must be a date written YYYY-MM-DD."]
    assert errors["aggressor.identifiers[3].value"] == ["A phone number cannot contain letters."]
    assert "not an email" not in json.dumps(errors)  # values are never echoed


def test_unknown_fields_are_refused_at_every_level(client, api_key):
    body = copy.deepcopy(EXAMPLE)
    body["extra"] = 1
    body["victim"]["contact"]["phon"] = "07 98 76 54 32"
    body["aggressor"]["identifiers"][0]["note"] = "x"
    errors = errors_of(client, api_key, body)
    assert errors == {
        "extra": ["Unknown field."],
        "victim.contact.phon": ["Unknown field."],
        "aggressor.identifiers[0].note": ["Unknown field."],
    }


def test_the_narrative_is_limited_to_10000_characters(client, api_key):
    body = copy.deepcopy(MINIMAL)
    body["narrative"] = "é" * 10_000
    assert client.post(URL, json=body, headers=auth(api_key)).status_code == 201
    body["narrative"] = "é" * 10_001
    assert errors_of(client, api_key, body) == {"narrative": ["At most 10000 characters."]}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("narrative",), "before\x00after"),
        (("narrative",), "lone \ud800 surrogate"),
        (("narrative",), "   "),
        (("narrative",), 42),
        (("incident",), "yesterday"),
        (("incident", "date"), "2026-02-30"),
        (("incident", "date"), "2999-01-01"),
        (("incident", "violence_types"), "theft"),
        (("incident", "violence_types"), []),
        (("aggressor",), []),
        (("aggressor", "identifiers"), [{"kind": "fax", "value": "1"}]),
        (("aggressor", "identifiers"), [{"kind": "phone", "value": "06" * 200}]),
        (("aggressor", "identifiers"), [{"kind": "phone", "value": "06 12 34 56 78"}] * 21),
        (
            ("consent",),
            {"publish_alert": 1, "follow_up": 0, "share_with_partner": 0, "statistics": 0},
        ),
        (("language",), "not a language!"),
    ],
)
def test_strange_values_are_422_never_500(app, client, api_key, path, value):
    body = copy.deepcopy(MINIMAL)
    target = body
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    before = count(app, Report)
    response = client.post(URL, json=body, headers=auth(api_key))
    assert_error(response, 422, "validation_failed")
    assert count(app, Report) == before


def test_equal_identifiers_in_one_report_are_stored_once(app, client, api_key):
    body = copy.deepcopy(MINIMAL)
    body["aggressor"] = {
        "identifiers": [
            {"kind": "phone", "value": "06 12 34 56 78"},
            {"kind": "phone", "value": "+33 6 12 34 56 78"},
        ],
        "vehicle": {"plate": "ab 123 cd"},
    }
    reference = client.post(URL, json=body, headers=auth(api_key)).get_json()["reference"]
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.reference == reference))
        assert sorted(i.kind for i in report.identifiers) == ["phone", "plate"]


# --- idempotency ----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_answer_and_creates_nothing(app, client):
    client_id, key = new_client(app)
    headers = auth(key, **{"Idempotency-Key": "retry-1"})
    first = client.post(URL, json=EXAMPLE, headers=headers)
    assert first.status_code == 201
    reports = count(app, Report, Report.api_client_id == client_id)
    # Same body, keys in another order and other spacing: still the same request.
    reordered = json.dumps(dict(reversed(list(EXAMPLE.items()))), indent=2)
    second = client.post(URL, data=reordered, headers=headers, content_type="application/json")
    assert second.status_code == 201
    # The same answer, but the follow-up code is shown once: never stored, never replayed.
    assert second.get_json() | {"follow_up_code": None} == first.get_json() | {
        "follow_up_code": None
    }
    assert "follow_up_code" not in second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(app, Report, Report.api_client_id == client_id) == reports == 1


def test_the_same_key_with_another_body_is_422(app, client):
    client_id, key = new_client(app)
    headers = auth(key, **{"Idempotency-Key": "retry-2"})
    assert client.post(URL, json=EXAMPLE, headers=headers).status_code == 201
    body = assert_error(
        client.post(URL, json=MINIMAL, headers=headers), 422, "idempotency_key_reused"
    )
    assert "Idempotency-Key" in body["errors"]
    assert count(app, Report, Report.api_client_id == client_id) == 1


def test_keys_belong_to_one_client(app, client):
    _id_a, key_a = new_client(app)
    _id_b, key_b = new_client(app)
    one = client.post(URL, json=MINIMAL, headers=auth(key_a, **{"Idempotency-Key": "shared"}))
    two = client.post(URL, json=MINIMAL, headers=auth(key_b, **{"Idempotency-Key": "shared"}))
    assert one.status_code == two.status_code == 201
    assert one.get_json()["reference"] != two.get_json()["reference"]


def test_a_key_older_than_24_hours_makes_a_new_report(app, client):
    client_id, key = new_client(app)
    headers = auth(key, **{"Idempotency-Key": "old"})
    first = client.post(URL, json=MINIMAL, headers=headers).get_json()
    with app.app_context():
        record = db.session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.api_client_id == client_id)
        )
        record.created_at -= dt.timedelta(hours=25)
        db.session.commit()
    second = client.post(URL, json=MINIMAL, headers=headers)
    assert second.status_code == 201
    assert second.get_json()["reference"] != first["reference"]
    assert "Idempotent-Replayed" not in second.headers


def test_a_refused_report_is_not_remembered(app, client):
    client_id, key = new_client(app)
    headers = auth(key, **{"Idempotency-Key": "fix-and-resend"})
    assert client.post(URL, json={}, headers=headers).status_code == 422
    assert client.post(URL, json=MINIMAL, headers=headers).status_code == 201
    assert count(app, IdempotencyRecord, IdempotencyRecord.api_client_id == client_id) == 1


def test_purging_forgets_only_expired_answers(app, client):
    from backoffice.services import intake

    client_id, key = new_client(app)
    for name in ("keep", "forget"):
        client.post(URL, json=MINIMAL, headers=auth(key, **{"Idempotency-Key": name}))
    with app.app_context():
        old = db.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.api_client_id == client_id, IdempotencyRecord.key == "forget"
            )
        )
        old.created_at -= dt.timedelta(days=2)
        db.session.commit()
        intake.purge_idempotency_records()
        left = db.session.scalars(
            select(IdempotencyRecord.key).where(IdempotencyRecord.api_client_id == client_id)
        ).all()
    assert left == ["keep"]


# --- a failure part-way leaves nothing ------------------------------------------------------


def test_a_failure_after_the_report_was_written_leaves_nothing(app, client, monkeypatch):
    from backoffice.services import intake

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    _client_id, key = new_client(app)
    before = [count(app, m) for m in (Report, ReportIdentifier, IdempotencyRecord)]
    monkeypatch.setattr(intake, "remember_answer", broken)
    response = client.post(URL, json=EXAMPLE, headers=auth(key, **{"Idempotency-Key": "boom"}))
    assert_error(response, 500, "server_error")
    assert "disk on fire" not in response.get_data(as_text=True)
    assert [count(app, m) for m in (Report, ReportIdentifier, IdempotencyRecord)] == before
    received = count(app, AuditEvent, AuditEvent.action == "report_received")
    monkeypatch.undo()
    retry = client.post(URL, json=EXAMPLE, headers=auth(key, **{"Idempotency-Key": "boom"}))
    assert retry.status_code == 201
    assert count(app, AuditEvent, AuditEvent.action == "report_received") == received + 1


# --- rate limit -----------------------------------------------------------------------------


def test_each_client_is_rate_limited_with_retry_after(database_url, test_keyring, tmp_path, app):
    limited = make_app(
        database_url,
        test_keyring,
        tmp_path,
        RATELIMIT_ENABLED=True,
        API_RATE_LIMIT="3 per minute",
    )
    _id_a, key_a = new_client(app)
    _id_b, key_b = new_client(app)
    client = limited.test_client()
    statuses = [client.post(URL, json=MINIMAL, headers=auth(key_a)).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = client.post(URL, json=MINIMAL, headers=auth(key_a))
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another client has its own allowance.
    assert client.post(URL, json=MINIMAL, headers=auth(key_b)).status_code == 201
