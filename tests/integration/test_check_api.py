"""``POST /api/v1/check`` and ``GET /api/v1/alerts`` as API.md describes them."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import uuid

import pytest
from sqlalchemy import func, select, text

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport, IdentifierCheck
from backoffice.models.base import utcnow
from backoffice.services import alerts, api_keys
from tests.conftest import make_app
from tests.integration.moderation_support import payload, report_in, unique_phone, user


@pytest.fixture(scope="module")
def api_client(app):
    with app.app_context():
        client, key = api_keys.create_client(f"check-tests-{uuid.uuid4().hex[:8]}")
        db.session.commit()
        return client.id, key


def _headers(api_client) -> dict:
    return {"Authorization": f"Bearer {api_client[1]}"}


def _check(app, api_client, body, raw: bytes | None = None):
    client = app.test_client()
    if raw is not None:
        return client.post(
            "/api/v1/check",
            data=raw,
            headers={**_headers(api_client), "Content-Type": "application/json"},
        )
    return client.post("/api/v1/check", json=body, headers=_headers(api_client))


def _published(app, phone: str, **overrides) -> str:
    """The reference of a new published alert naming ``phone``.

    Database work runs in its own app context, so that the requests of a test each get
    their own (a pushed context would be shared by the test client's requests, ``g`` too).
    """
    with app.app_context():
        report = report_in(
            "published", aggressor={"identifiers": [{"kind": "phone", "value": phone}]}, **overrides
        )
        reference = db.session.scalar(
            select(Alert.reference).join(AlertReport).where(AlertReport.report_id == report.id)
        )
        db.session.remove()
        return reference


def _alert(reference: str) -> Alert:
    return db.session.scalar(select(Alert).where(Alert.reference == reference))


def _counted(app, kind: str, matched: bool, client_id: int) -> int:
    with app.app_context():
        alerts.flush_check_counts()  # counts wait in memory for a few seconds
        db.session.commit()
        return (
            db.session.scalar(
                select(func.sum(IdentifierCheck.count)).where(
                    IdentifierCheck.kind == kind,
                    IdentifierCheck.matched.is_(matched),
                    IdentifierCheck.api_client_id == client_id,
                )
            )
            or 0
        )


def test_a_published_alert_is_found_whatever_the_spelling(app, api_client):
    phone = unique_phone()
    reference = _published(app, phone)
    before = _counted(app, "phone", True, api_client[0])
    spelled = f"+33 {phone[1:3]} {phone[3:5]} {phone[5:7]} {phone[7:9]} {phone[9:]}"
    response = _check(app, api_client, {"value": spelled, "kind": "phone"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["kind"] == "phone" and body["normalised"] == "+33" + phone[1:]
    with app.app_context():
        alert = _alert(reference)
        assert body["matches"] == [
            {
                "alert": reference,
                "published_at": alerts.iso_utc(alert.published_at),
                "violence_types": alert.violence_types,
                "reports_count": 1,
            }
        ]
    assert _counted(app, "phone", True, api_client[0]) == before + 1


def test_counts_are_kept_in_memory_then_written_together(app):
    with app.app_context():
        alerts.flush_check_counts()
        db.session.commit()
        month = utcnow().date().replace(day=1)
        for matched in (True, False, False):
            alerts._count_check("email", matched, "api", 987654, utcnow())
        assert alerts.flush_check_counts() == 3
        assert alerts.flush_check_counts() == 0
        db.session.commit()
        rows = db.session.execute(
            select(IdentifierCheck.matched, IdentifierCheck.count).where(
                IdentifierCheck.api_client_id == 987654, IdentifierCheck.month == month
            )
        ).all()
        assert sorted(rows) == [(False, 2), (True, 1)]


def test_the_flush_job_is_registered():
    from backoffice.jobs import JOBS

    assert JOBS["flush_check_counts"].target.endswith("alerts:flush_check_counts_job")


def test_the_kind_is_guessed_when_absent(app, api_client):
    phone = unique_phone()
    reference = _published(app, phone)
    body = _check(app, api_client, {"value": phone}).get_json()
    assert body["kind"] == "phone" and body["matches"][0]["alert"] == reference
    assert _check(app, api_client, {"value": "Marc75"}).get_json()["kind"] == "pseudonym"


@pytest.mark.parametrize("status", ["received", "in_review", "needs_info", "approved", "recorded"])
def test_a_check_never_matches_an_unpublished_report(app, api_client, status):
    phone = unique_phone()
    overrides = {"consent": {**payload()["consent"], "publish_alert": status != "recorded"}}
    with app.app_context():
        identifiers = {"identifiers": [{"kind": "phone", "value": phone}]}
        report_in(status, aggressor=identifiers, **overrides)
    body = _check(app, api_client, {"value": phone, "kind": "phone"}).get_json()
    assert body["kind"] == "phone" and body["matches"] == []


def test_a_draft_alert_is_never_matched(app, api_client):
    phone = unique_phone()
    with app.app_context():
        identifiers = {"identifiers": [{"kind": "phone", "value": phone}]}
        report = report_in("approved", aggressor=identifiers)
        alerts.compose([report], user("demo-moderator"))
        db.session.commit()
    assert _check(app, api_client, {"value": phone}).get_json()["matches"] == []


def _feed_references(app, api_client, query: str = "") -> list[str]:
    body = _feed(app, api_client, query).get_json()
    return [a["reference"] for a in body["alerts"]]


def test_retraction_removes_the_alert_from_the_check_and_the_feed(app, api_client):
    phone = unique_phone()
    reference = _published(app, phone, incident={**payload()["incident"], "department": "971"})
    assert reference in _feed_references(app, api_client, "?department=971")
    assert _check(app, api_client, {"value": phone}).get_json()["matches"]
    with app.app_context():
        alerts.retract(_alert(reference), user("demo-moderator"), "Not him")
        db.session.commit()
    assert _check(app, api_client, {"value": phone}).get_json()["matches"] == []
    assert reference not in _feed_references(app, api_client, "?department=971")


def test_an_expired_alert_is_not_matched(app, api_client):
    phone = unique_phone()
    with app.app_context():
        identifiers = {"identifiers": [{"kind": "phone", "value": phone}]}
        report = report_in("approved", aggressor=identifiers)
        alert = alerts.compose([report], user("demo-moderator"))
        alerts.publish(alert, user("demo-moderator"), now=utcnow() - dt.timedelta(days=400))
        db.session.commit()
    assert _check(app, api_client, {"value": phone}).get_json()["matches"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"value": "   "}, "value"),
        ({"value": 612345678}, "value"),
        ({"value": "0612345678", "kind": "fax"}, "kind"),
        ({"value": "0612345678", "extra": 1}, "extra"),
        ({"value": "06 12 AB 56 78", "kind": "phone"}, "value"),
        ({"value": "x" * 600, "kind": "pseudonym"}, "value"),
        ({"value": "no-at-sign", "kind": "email"}, "value"),
    ],
)
def test_bad_checks_get_422_and_never_echo_the_value(app, api_client, body, field):
    response = _check(app, api_client, body)
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["error"] == "validation_failed" and field in answer["errors"]
    value = body.get("value")
    if isinstance(value, str) and value.strip():
        assert value not in response.get_data(as_text=True)


@pytest.mark.parametrize(("raw", "status"), [(b"{not json", 400), (b"[1, 2]", 400)])
def test_bodies_that_are_not_json_objects(app, api_client, raw, status):
    response = _check(app, api_client, None, raw=raw)
    assert response.status_code == status
    assert response.get_json()["error"]


def test_the_clear_value_is_never_stored_nor_logged(app, api_client, caplog):
    phone = unique_phone()
    _published(app, phone)
    digits = phone[1:]
    with caplog.at_level(logging.DEBUG):
        _check(app, api_client, {"value": phone, "kind": "phone"})
        _check(app, api_client, {"value": phone + "999", "kind": "phone"})  # refused
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert digits not in logged
    with app.app_context():
        alerts.flush_check_counts()
        db.session.commit()
        assert db.session.scalar(select(func.count(IdentifierCheck.id))) > 0
        for table in ("identifier_checks", "audit_events"):
            rows = db.session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
            assert all(digits not in str(row) for row in rows), table


def test_the_check_is_rate_limited_per_client(database_url, test_keyring, tmp_path, api_client):
    limited = make_app(
        database_url,
        test_keyring,
        tmp_path,
        RATELIMIT_ENABLED=True,
        API_CHECK_RATE_LIMIT="2 per minute",
        API_RATE_LIMIT="100 per minute",
    )
    client = limited.test_client()
    answers = [
        client.post("/api/v1/check", json={"value": "Marc75"}, headers=_headers(api_client))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert answers[2].get_json()["error"] == "rate_limited"


# --- the feed ------------------------------------------------------------------------------


def _feed(app, api_client, query: str = ""):
    return app.test_client().get(f"/api/v1/alerts{query}", headers=_headers(api_client))


def test_the_feed_shows_published_alerts_with_public_fields_only(app, api_client):
    phone = unique_phone()
    incident = {**payload()["incident"], "department": "2A"}
    reference = _published(app, phone, incident=incident)
    with app.app_context():
        alerts.compose([report_in("approved", incident=incident)], user("demo-moderator"))
        db.session.commit()
        drafts = set(db.session.scalars(select(Alert.reference).where(Alert.status == "draft")))
    body = _feed(app, api_client, "?department=2A&lang=en").get_json()
    references = [a["reference"] for a in body["alerts"]]
    assert reference in references and not drafts & set(references)
    assert all("2A" in a["departments"] for a in body["alerts"])
    item = next(a for a in body["alerts"] if a["reference"] == reference)
    assert set(item) == {
        "reference",
        "published_at",
        "departments",
        "violence_types",
        "language",
        "title",
        "text",
        "aggressor",
        "reports_count",
    }
    assert item["language"] == "en" and item["title"].startswith("Alert")
    assert item["published_at"].endswith("Z")
    assert item["aggressor"]["identifiers"] == [
        {"kind": "phone", "display": f"+33 6 {phone[2:4]} {phone[4:6]} {phone[6:8]} {phone[8:]}"}
    ]
    assert "Lila" not in str(item)  # nothing of the narrative nor of the victim


def test_the_feed_pages_with_a_cursor_and_filters_by_date(app, api_client):
    incident = {**payload()["incident"], "department": "2B"}
    made = {_published(app, unique_phone(), incident=incident) for _ in range(3)}
    seen = []
    query = "?department=2B"
    original = alerts.FEED_PAGE_SIZE
    alerts.FEED_PAGE_SIZE = 2
    try:
        for _ in range(50):
            body = _feed(app, api_client, query).get_json()
            assert len(body["alerts"]) <= 2
            seen += [a["reference"] for a in body["alerts"]]
            if not body["next_cursor"]:
                break
            query = f"?department=2B&cursor={body['next_cursor']}"
    finally:
        alerts.FEED_PAGE_SIZE = original
    assert made <= set(seen) and len(seen) == len(set(seen))
    future = (utcnow() + dt.timedelta(hours=1)).isoformat() + "Z"
    assert _feed_references(app, api_client, f"?department=2B&since={future}") == []


def _cursor(moment: str, row: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment, row]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?lang=xx", "lang"),
        ("?department=999", "department"),
        ("?department=75&department=nowhere", "department"),
        ("?since=yesterday", "since"),
        ("?since=0001-01-01T00:00:00%2B01:00", "since"),  # before year 1 once in UTC
        ("?cursor=%25%25", "cursor"),
        ("?cursor=" + "9" * 60, "cursor"),
        ("?cursor=" + _cursor("2026-01-01T00:00:00", 10**30), "cursor"),  # no such row id
        ("?cursor=" + _cursor("2026-01-01T00:00:00", -1), "cursor"),
        ("?cursor=" + _cursor("2026-01-01T00:00:00+05:00", 1), "cursor"),  # not ours
        ("?cursor=" + "A" * 5000, "cursor"),
    ],
)
def test_bad_feed_queries_get_422_never_500(app, api_client, query, field):
    response = _feed(app, api_client, query)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"] == "validation_failed"
    assert field in response.get_json()["errors"]


def test_empty_feed_parameters_read_as_absent(app, api_client):
    response = _feed(app, api_client, "?since=&lang=&cursor=&department=")
    assert response.status_code == 200
    assert all(a["language"] == "fr" for a in response.get_json()["alerts"])
