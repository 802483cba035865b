"""Complaint follow-up on a case: where and when, her lawyer, the hearing and the deadline as
reminders through the case's actions (the daily digest included); details sealed and erased
with the case."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.case import Complaint, FollowUpAction
from backoffice.models.structure import Structure
from backoffice.services import cases
from tests.conftest import csrf_token
from tests.integration.cases_support import AIDES_WORKER, open_case, user

TODAY = dt.date.today()


def _structure(category: str) -> int:
    code = f"test-complaint-{category}"
    found = db.session.scalar(select(Structure).where(Structure.code == code))
    if found is None:
        found = Structure(
            code=code, name=f"{category} de test", category=category, city="Paris",
            department="75", active=True,
        )  # fmt: skip
        db.session.add(found)
        db.session.flush()
    return found.id


def test_a_complaint_through_the_page_puts_its_dates_among_the_actions(app, login_as):
    with app.app_context():
        case_id = open_case().id
        police, lawyer = _structure("police"), _structure("lawyer")
        db.session.commit()
        db.session.remove()
    client = login_as(AIDES_WORKER)
    hearing, deadline = TODAY + dt.timedelta(days=40), TODAY + dt.timedelta(days=3)
    page = client.get(f"/cases/{case_id}/dossier").get_data(as_text=True)
    assert 'name="filed_on"' in page
    answer = client.post(
        f"/cases/{case_id}/complaints",
        data={
            "csrf_token": csrf_token(client, f"/cases/{case_id}/dossier"),
            "filed_on": (TODAY - dt.timedelta(days=2)).isoformat(),
            "filed_with_id": str(police),
            "lawyer_id": str(lawyer),
            "hearing_on": hearing.isoformat(),
            "deadline_on": deadline.isoformat(),
            "details": "PV n° 2026/123",
        },
    )
    assert answer.status_code == 302
    page = client.get(f"/cases/{case_id}/dossier").get_data(as_text=True)
    assert "police de test" in page and "lawyer de test" in page and "PV n° 2026/123" in page
    with app.app_context():
        actions = db.session.scalars(
            select(FollowUpAction).where(FollowUpAction.case_id == case_id)
        ).all()
        assert sorted((a.kind, a.due_on) for a in actions) == [
            ("appointment", hearing),
            ("document", deadline),
        ]
        assert {a.assignee_id for a in actions} == {user(AIDES_WORKER).id}
        _overdue, upcoming, _today = cases.my_due_actions(user(AIDES_WORKER))
        assert case_id in {a.case_id for a in upcoming}, "the deadline is in her reminders"
        db.session.remove()


def test_new_dates_make_new_reminders(app, login_as):
    with app.app_context():
        case = open_case()
        complaint = cases.record_complaint(
            case, cases.ComplaintInput(filed_on=TODAY), user(AIDES_WORKER)
        )
        db.session.commit()
        case_id, complaint_id = case.id, complaint.id
        db.session.remove()
    client = login_as(AIDES_WORKER)
    hearing = TODAY + dt.timedelta(days=10)
    client.post(
        f"/cases/complaints/{complaint_id}/dates",
        data={
            "csrf_token": csrf_token(client, f"/cases/{case_id}/dossier"),
            "hearing_on": hearing.isoformat(),
        },
    )
    with app.app_context():
        assert db.session.get(Complaint, complaint_id).hearing_on == hearing
        due = db.session.scalars(
            select(FollowUpAction.due_on).where(FollowUpAction.case_id == case_id)
        ).all()
        assert due == [hearing]
        db.session.remove()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("filed_on", TODAY + dt.timedelta(days=1), "cannot be filed in the future"),
        ("hearing_on", TODAY - dt.timedelta(days=30), "before the complaint was filed"),
        ("filed_with_id", "lawyer", "police station from the directory"),
    ],
)
def test_wrong_dates_or_structures_are_refused(app, field, value, message):
    with app.app_context():
        case = open_case()
        data = {"filed_on": TODAY - dt.timedelta(days=1), field: value}
        if value == "lawyer":
            data[field] = _structure("lawyer")
        with pytest.raises(cases.CaseRuleError, match=message):
            cases.record_complaint(case, cases.ComplaintInput(**data), user(AIDES_WORKER))
        db.session.rollback()
        db.session.remove()


def test_erasing_the_case_erases_the_complaint_details(app):
    with app.app_context():
        case = open_case()
        actor = user(AIDES_WORKER)
        complaint = cases.record_complaint(
            case, cases.ComplaintInput(filed_on=TODAY, details="PV secret"), actor
        )
        db.session.commit()
        cases.erase_case(case, "person_request", "the person's request", actor)
        db.session.commit()
        assert db.session.get(Complaint, complaint.id).details_sealed is None
        db.session.remove()
