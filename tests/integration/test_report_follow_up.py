"""Her report, followed with reference and code: status, the moderator's question, her
answer, erasure — and no oracle on references (API.md, "Additions for workers")."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.report import Report, ReportEvent
from backoffice.models.worker_access import ReportAnswer, ReportFollowUp
from backoffice.services import api_keys, moderation
from tests.integration.moderation_support import user
from tests.integration.test_access_matrix import API_ROUTES

REPORT = API_ROUTES[("POST", "/api/v1/reports")] | {
    "victim": {"contact": {"phone": "07 98 76 54 32", "email": None}, "pseudonym": "Lila"}
}


@pytest.fixture(scope="module")
def key(app):
    with app.app_context():
        _client, secret = api_keys.create_client(f"follow-up-{uuid.uuid4().hex[:8]}")
        db.session.commit()
    return secret


@pytest.fixture
def api(app, key):
    client = app.test_client()

    def call(method, path, body=None, code=None):
        headers = {"Authorization": f"Bearer {key}"}
        if code is not None:
            headers["X-Follow-Up-Code"] = code
        if body is None:
            return client.open(f"/api/v1{path}", method=method, headers=headers)
        return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)

    return call


def submit(api) -> tuple[str, str]:
    answer = api("POST", "/reports", REPORT)
    assert answer.status_code == 201
    return answer.json["reference"], answer.json["follow_up_code"]


def ask(app, reference: str, question: str) -> None:
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.reference == reference))
        moderator = user("demo-moderator")
        moderation.perform(report, "claim", moderator)
        moderation.perform(report, "request_info", moderator, reason=question)
        db.session.commit()


def test_she_follows_answers_and_erases_her_report(app, api):
    reference, code = submit(api)
    with app.app_context():
        stored = db.session.get(ReportFollowUp, _report_id(reference))
        assert code not in stored.code_hash and code.replace("-", "") not in stored.code_hash

    assert api("GET", f"/reports/{reference}", code=code).json == {
        "reference": reference,
        "status": "received",
        "question": None,
        "alert": None,
    }
    assert api("POST", f"/reports/{reference}/answers", {"text": "x"}, code).status_code == 409

    ask(app, reference, "Which street was it?")
    seen = api("GET", f"/reports/{reference}", code=code.lower()).json  # any case
    assert seen["status"] == "question" and seen["question"] == "Which street was it?"

    taken = api("POST", f"/reports/{reference}/answers", {"text": "Rue Saint-Denis."}, code)
    assert taken.status_code == 202 and taken.json == {"status": "in_review"}
    assert api("GET", f"/reports/{reference}", code=code).json["status"] == "received"
    with app.app_context():
        report_id = _report_id(reference)
        events = db.session.scalars(
            select(ReportEvent.action).where(ReportEvent.report_id == report_id)
        ).all()
        assert "info_added" in events  # the moderators' queue shows it
        (row,) = db.session.scalars(select(ReportAnswer).where(ReportAnswer.report_id == report_id))
        assert "Saint-Denis" not in (row.text_sealed or "")  # sealed

    erased = api("DELETE", f"/reports/{reference}", code=code)
    assert erased.status_code == 200 and erased.json == {"status": "erased"}
    assert api("DELETE", f"/reports/{reference}", code=code).json == {"status": "erased"}
    assert api("GET", f"/reports/{reference}", code=code).json["status"] == "erased"
    with app.app_context():
        report = db.session.get(Report, _report_id(reference))
        assert report.victim_phone_sealed is None and report.data_key.is_destroyed
        assert "Access matrix check" not in report.narrative
        answer = db.session.scalar(select(ReportAnswer).where(ReportAnswer.report_id == report.id))
        assert answer.text_sealed is None
        assert report.violence_types == ["theft"]  # what statistics count stays


def _report_id(reference: str) -> int:
    return db.session.scalar(select(Report.id).where(Report.reference == reference))


def test_a_wrong_code_and_an_unknown_reference_answer_the_same(app, api):
    reference, code = submit(api)
    wrong = api("GET", f"/reports/{reference}", code="AAAA-AAAA-AAAA")
    unknown = api("GET", "/reports/J-2099-999999", code=code)
    missing = api("GET", f"/reports/{reference}")
    assert wrong.status_code == unknown.status_code == missing.status_code == 404
    assert wrong.json == unknown.json == missing.json


def test_five_wrong_codes_lock_the_report_like_an_unknown_one(app, api):
    reference, code = submit(api)
    for _ in range(5):
        assert api("GET", f"/reports/{reference}", code="AAAA-AAAA-AAAA").status_code == 404
    locked = api("GET", f"/reports/{reference}", code=code)  # even the right code, for now
    assert locked.status_code == 404
    assert locked.json == api("GET", "/reports/J-2099-999998", code=code).json


def test_erasure_can_withdraw_the_published_alert(app, api):
    from tests.integration.moderation_support import report_in

    with app.app_context():
        report = report_in("published")
        from backoffice.services import follow_up

        code = follow_up.issue(report)
        reference = report.reference
        db.session.commit()
    assert api("GET", f"/reports/{reference}", code=code).json["status"] == "published"
    answer = api("DELETE", f"/reports/{reference}", {"withdraw_alert": True}, code)
    assert answer.status_code == 200
    with app.app_context():
        statuses = db.session.scalars(
            select(Alert.status)
            .join(Alert.report_links)
            .where(Alert.report_links.any(report_id=_report_id(reference)))
        ).all()
        assert statuses and set(statuses) == {"retracted"}
