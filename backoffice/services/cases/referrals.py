"""Referrals: sending the person to a structure of the directory for one need.

proposed → accepted → appointment (date) → done, or declined. Notes are sealed with the
case's key and only ever appended to, each addition stamped with its time.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import NEEDS, REFERRAL_STATUSES, Case, CaseNeed, Referral
from backoffice.security import scoped
from backoffice.services import audit, directory
from backoffice.services.cases.rules import (
    SHORT_TEXT_MAX_LENGTH,
    CaseRuleError,
    check_code,
    clean_text,
    record_event,
    require_not_closed,
    wall_clock_to_utc,
)
from backoffice.services.cases.sealed import SealedReader, reading
from backoffice.services.timezones import to_local

REFERRAL_TRANSITIONS = {
    "proposed": {"accepted", "appointment", "declined"},
    "accepted": {"appointment", "done", "declined"},
    "appointment": {"appointment", "done", "declined"},
    "done": set(),
    "declined": set(),
}
# Which services of the directory answer which need (for suggesting structures).
NEED_SERVICES = {
    "health": ("health", "pep", "testing", "prep", "contraception", "abortion", "forensic"),
    "legal": ("legal", "complaint"),
    "shelter": ("shelter",),
    "psychological": ("psychological", "peer_support"),
    "administrative": ("administrative",),
    "financial": ("financial", "food"),
}


def structures_for(
    need: str | None,
    department: str | None,
    limit: int = 300,
    *,
    service: str | None = None,
    text: str | None = None,
) -> list:
    """Active structures answering a need (or one service of it), matching ``text``; see
    ``directory.structures_offering`` for the order."""
    services = NEED_SERVICES.get(need or "", ())
    if service in services:
        services = (service,)
    return directory.structures_offering(services, department, limit, text=text)


def add_referral(
    case: Case, structure_id: int | None, need: str, actor, notes: str | None = None
) -> Referral:
    require_not_closed(case)
    check_code(need, NEEDS, "need")
    structure = directory.get_structure(structure_id) if structure_id else None
    if structure is None or not structure.active:
        raise CaseRuleError(_("Choose a structure of the directory."), "structure_id")
    notes = clean_text(notes, SHORT_TEXT_MAX_LENGTH, "notes")
    referral = Referral(
        case_id=case.id,
        organisation_id=case.organisation_id,
        structure_id=structure.id,
        need=need,
        status="proposed",
        status_changed_at=utcnow(),
        created_by_id=actor.id,
    )
    referral.data_key = case.data_key
    referral.notes = notes
    db.session.add(referral)
    _need_in_progress(case, need)
    db.session.flush()
    record_event(case, "referral_proposed", actor, referral=referral.id, need=need)
    audit.record(
        "referral_created", referral, actor=actor, details={"case": case.reference, "need": need}
    )
    return referral


def _need_in_progress(case: Case, need: str) -> None:
    row = next((n for n in case.needs if n.need == need), None)
    if row is None:
        case.needs.append(CaseNeed(need=need, status="in_progress"))
    elif row.status == "identified":
        row.status = "in_progress"


def change_referral(
    referral: Referral,
    status: str,
    actor,
    appointment_local: dt.datetime | None = None,
    note: str | None = None,
) -> None:
    """Move the referral on its flow; the appointment is a wall-clock time (see
    ``rules.wall_clock_to_utc``)."""
    case = db.session.get(Case, referral.case_id)
    require_not_closed(case)
    check_code(status, REFERRAL_STATUSES, "status")
    if status not in REFERRAL_TRANSITIONS[referral.status]:
        raise CaseRuleError(_("This change of status is not possible."), "status")
    if status == "appointment" and appointment_local is None:
        raise CaseRuleError(_("Give the date and time of the appointment."), "appointment_at")
    note = clean_text(note, SHORT_TEXT_MAX_LENGTH, "note")
    before = referral.status
    referral.status, referral.status_changed_at = status, utcnow()
    if status == "appointment":
        referral.appointment_at = wall_clock_to_utc(
            appointment_local, case.department, "appointment_at"
        )
    if note:
        set_committed_value(referral, "data_key", case.data_key)
        now = to_local(utcnow(), case.department)
        stamp = f"{now:%d/%m/%Y %H:%M} {now.tzname()}"
        previous = referral.notes
        referral.notes = f"{previous}\n[{stamp}] {note}" if previous else f"[{stamp}] {note}"
    record_event(case, "referral_" + status, actor, referral=referral.id)
    audit.record(
        "referral_status_changed",
        referral,
        actor=actor,
        details={"case": case.reference, "from": before, "to": status},
    )


def referrals_of(case: Case) -> Select:
    """The select of the case's referrals with their structure, oldest first."""
    statement = scoped(select(Referral).where(Referral.case_id == case.id), Referral, case)
    # The structure's name and address only: not its services and languages (eager elsewhere).
    structure = joinedload(Referral.structure).lazyload("*")
    return statement.options(structure).order_by(Referral.created_at, Referral.id)


def read_referrals(case: Case) -> list[dict]:
    """The case's referrals with their structure and notes (each note read is audited)."""
    referrals = db.session.scalars(referrals_of(case)).all()
    with reading(case) as sealed:
        return [referral_view(case, r, sealed) for r in referrals]


def referral_view(case: Case, referral: Referral, sealed: SealedReader) -> dict:
    """A referral as a page shows it, its notes decrypted by ``sealed`` (which audits)."""
    notes = sealed.open(referral, "notes")
    structure = referral.structure
    return {
        "id": referral.id,
        "need": referral.need,
        "status": referral.status,
        "appointment_at": referral.appointment_at,
        "status_changed_at": referral.status_changed_at,
        "structure": {
            "id": structure.id,
            "name": structure.name,
            "city": structure.city,
            "postcode": structure.postcode,
            "phone": structure.phone,
            "address": structure.address,
            "website": structure.website,
            "opening_hours": structure.opening_hours_lines,
            "verification": structure.verification,
        },
        "notes": notes,
        "next": sorted(REFERRAL_TRANSITIONS[referral.status]),
    }
