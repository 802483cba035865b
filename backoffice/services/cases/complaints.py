"""Complaint follow-up on a case: where and when she filed it, her lawyer, the hearing and
the next deadline.

The police station and the lawyer come from the directory (clear, like a referral's
structure); free details (a complaint number) are sealed with the case's key and erased with
it. Each hearing or deadline date becomes a follow-up action of the case (``add_action``), so
the existing reminders carry it: the case's actions list, "my actions" and the daily digest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.case import Case, Complaint
from backoffice.models.structure import Structure
from backoffice.security import scoped
from backoffice.services import audit
from backoffice.services.cases.actions import add_action
from backoffice.services.cases.rules import (
    SHORT_TEXT_MAX_LENGTH,
    CaseRuleError,
    clean_text,
    record_event,
    require_not_closed,
)
from backoffice.services.timezones import local_today

# The kind of follow-up action each date becomes (ACTION_KINDS).
HEARING_ACTION = "appointment"
DEADLINE_ACTION = "document"


@dataclass(frozen=True)
class ComplaintInput:
    filed_on: dt.date | None
    filed_with_id: int | None = None
    lawyer_id: int | None = None
    hearing_on: dt.date | None = None
    deadline_on: dt.date | None = None
    details: str | None = None


def _structure(structure_id: int | None, category: str, field: str) -> int | None:
    if structure_id is None:
        return None
    structure = db.session.get(Structure, structure_id)
    if structure is None or structure.category != category:
        message = (
            _("Choose a police station from the directory.")
            if category == "police"
            else _("Choose a lawyer from the directory.")
        )
        raise CaseRuleError(message, field)
    return structure.id


def _check_dates(case: Case, data: ComplaintInput) -> None:
    if data.filed_on is None:
        raise CaseRuleError(_("Give the date the complaint was filed."), "filed_on")
    if data.filed_on > local_today(case.department):
        raise CaseRuleError(_("The complaint cannot be filed in the future."), "filed_on")
    for value, field in ((data.hearing_on, "hearing_on"), (data.deadline_on, "deadline_on")):
        if value is not None and value < data.filed_on:
            raise CaseRuleError(_("This date is before the complaint was filed."), field)


def _reminder(case: Case, kind: str, due_on: dt.date | None, label: str, actor) -> None:
    """A follow-up action on ``due_on`` for the case's social worker (the actor otherwise);
    its details (sealed) name what it is, in the default language."""
    if due_on is None:
        return
    add_action(case, kind, due_on, case.assignee_id, actor, details=label)


def _labels() -> tuple[str, str]:
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")):
        return _("Complaint: hearing"), _("Complaint: deadline")


def record_complaint(case: Case, data: ComplaintInput, actor) -> Complaint:
    """Her complaint on the case, its hearing and deadline as reminders."""
    require_not_closed(case)
    _check_dates(case, data)
    complaint = Complaint(
        case_id=case.id,
        organisation_id=case.organisation_id,
        filed_on=data.filed_on,
        filed_with_id=_structure(data.filed_with_id, "police", "filed_with_id"),
        lawyer_id=_structure(data.lawyer_id, "lawyer", "lawyer_id"),
        hearing_on=data.hearing_on,
        deadline_on=data.deadline_on,
        recorded_by_id=actor.id,
    )
    complaint.data_key = case.data_key
    complaint.details = clean_text(data.details, SHORT_TEXT_MAX_LENGTH, "details")
    db.session.add(complaint)
    db.session.flush()
    hearing, deadline = _labels()
    _reminder(case, HEARING_ACTION, data.hearing_on, hearing, actor)
    _reminder(case, DEADLINE_ACTION, data.deadline_on, deadline, actor)
    record_event(case, "complaint_recorded", actor, complaint=complaint.id)
    audit.record(
        "case_complaint_recorded", complaint, actor=actor, details={"case": case.reference}
    )
    return complaint


def change_complaint_dates(
    complaint: Complaint, hearing_on: dt.date | None, deadline_on: dt.date | None, actor
) -> None:
    """New hearing or deadline dates; each new date is a new reminder."""
    case = db.session.get(Case, complaint.case_id)
    require_not_closed(case)
    _check_dates(case, ComplaintInput(complaint.filed_on, None, None, hearing_on, deadline_on))
    hearing, deadline = _labels()
    if hearing_on != complaint.hearing_on:
        _reminder(case, HEARING_ACTION, hearing_on, hearing, actor)
    if deadline_on != complaint.deadline_on:
        _reminder(case, DEADLINE_ACTION, deadline_on, deadline, actor)
    complaint.hearing_on, complaint.deadline_on = hearing_on, deadline_on
    record_event(case, "complaint_dates", actor, complaint=complaint.id)
    audit.record(
        "case_complaint_dates_changed", complaint, actor=actor, details={"case": case.reference}
    )


def complaints_of(case: Case) -> list[Complaint]:
    statement = scoped(select(Complaint).where(Complaint.case_id == case.id), Complaint, case)
    return list(db.session.scalars(statement.order_by(Complaint.filed_on, Complaint.id)))
