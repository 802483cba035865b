"""Staff erasure of one report on request (issue 13, item 2): a Moderator or the
DataProtection role, with a reason and the reference typed; crypto-shredding; counts kept;
anyone else refused."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.audit import AuditEvent
from backoffice.models.report import Report
from backoffice.services import statistics
from backoffice.services.statistics import Period, Scope
from tests.conftest import csrf_token
from tests.integration.moderation_support import new_report, report_in
from tests.integration.test_intake_storage import _database_bytes


def _report(word: str) -> tuple[int, str]:
    report = new_report(narrative=f"Il m'a suivie jusqu'au parc {word}.")
    # What the anonymisation assistant derives from her words is kept in clear: it must go.
    report.redaction_proposal = {"text": f"parc {word}", "spans": []}
    db.session.commit()
    return report.id, report.reference


def _counts(app) -> list:
    with app.test_request_context():
        figures = statistics.compute(Scope(Period.year(dt.date.today().year)), "month", live=True)
        presented = statistics.present(figures, None)
        return [(f.figure.code, f.figure.value) for f in presented.key_figures]


def _erase(client, report_id: int, reference: str, **extra):
    url = f"/reports/erasure/{report_id}"
    data = {"csrf_token": csrf_token(client, url), "reason": "her_request"}
    return client.post(url, data={**data, "confirmation": reference, **extra})


@pytest.mark.parametrize("who", ["demo-moderator", "demo-dpo"])
def test_erasure_leaves_none_of_her_words_and_keeps_the_counts(app, login_as, who):
    word = f"Effacemot{uuid.uuid4().hex[:10]}"
    with app.app_context():
        report_id, reference = _report(word)
        db.session.remove()
    before = _counts(app)
    client = login_as(who)
    refused = _erase(client, report_id, "not the reference")
    assert refused.status_code == 200
    with app.app_context():
        assert db.session.get(Report, report_id).narrative_sealed is not None
        db.session.remove()

    response = _erase(client, report_id, reference)
    assert response.status_code == 302
    assert word.encode() not in _database_bytes(app)
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report.data_key.is_destroyed and report.victim_phone_sealed is None
        assert report.violence_types == ["theft", "condom_removal"]  # what statistics count
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "report_erased", AuditEvent.object_id == reference
            )
        )
        assert event.details == {"reason": "her_request", "alerts_withdrawn": 0, "again": False}
        db.session.remove()
    assert _counts(app) == before
    assert "is erased" in client.get(f"/reports/erasure/{report_id}").get_data(as_text=True)


def test_the_published_alert_stays_unless_withdrawn(app, login_as):
    with app.app_context():
        kept, withdrawn = report_in("published"), report_in("published")
        db.session.commit()
        ids = {name: (r.id, r.reference) for name, r in (("kept", kept), ("gone", withdrawn))}
        db.session.remove()
    client = login_as("demo-moderator")
    assert _erase(client, *ids["kept"]).status_code == 302
    assert _erase(client, *ids["gone"], withdraw_alert="y").status_code == 302
    with app.app_context():
        statuses = {
            name: set(
                db.session.scalars(
                    select(Alert.status).where(Alert.report_links.any(report_id=report_id))
                )
            )
            for name, (report_id, _ref) in ids.items()
        }
        db.session.remove()
    assert statuses == {"kept": {"published"}, "gone": {"retracted"}}


@pytest.mark.parametrize("who", ["demo-coordinator", "demo-relay", "demo-social-a"])
def test_others_cannot_erase_a_report(app, login_as, who):
    with app.app_context():
        report_id, reference = _report("Nope")
        db.session.remove()
    client = login_as(who)
    page = client.get(f"/reports/erasure/{report_id}")
    assert page.status_code in (302, 403, 404)
    token = csrf_token(client, "/")  # a valid token of their own session
    posted = client.post(
        f"/reports/erasure/{report_id}",
        data={"csrf_token": token, "reason": "her_request", "confirmation": reference},
    )
    assert posted.status_code in (302, 403, 404)
    if posted.status_code == 302:
        assert "/reports/erasure" not in posted.headers["Location"]
    with app.app_context():
        assert not db.session.get(Report, report_id).data_key.is_destroyed
        db.session.remove()
