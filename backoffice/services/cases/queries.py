"""Reading cases: the list and its search, the export, the history, and the case page.

Everything is read within the actor's organisation (``security.scoped``); a case's own rows
are read with the case as the actor. Search and export use clear columns only: names and
notes are encrypted and never searched, and the export holds no personal data.

The case page (``read_case``) takes a fixed, small number of queries whatever the number of
notes: the case with its small collections, the organisations with the case's colleagues,
then the history, referrals, actions and notes; every decryption comes after the last query,
so that their audit events are written together (``bench/cases.py`` measures it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    ACTION_KINDS,
    CASE_EVENT_KINDS,
    CASE_OUTCOMES,
    CASE_SOURCES,
    CASE_STATUSES,
    CONSENT_CHANNELS,
    ERASURE_REASONS,
    FLAG_RESOLUTIONS,
    NEED_STATUSES,
    NEEDS,
    REFERRAL_STATUSES,
    TRANSFER_ITEMS,
    URGENT_FLAGS,
    Case,
    CaseConsent,
    CaseEvent,
    CaseEvidence,
    CaseFlag,
    CaseNeed,
    CaseTransfer,
    FollowUpAction,
)
from backoffice.models.organisation import Organisation
from backoffice.models.user import StaffUser
from backoffice.security import holders, scope_condition, scoped, scoped_get, scoped_query
from backoffice.services import audit
from backoffice.services.cases.actions import action_view, actions_of
from backoffice.services.cases.contact import Contact, read_contact
from backoffice.services.cases.evidence import EVIDENCE_LISTED
from backoffice.services.cases.notes import NoteView, note_views, notes_of
from backoffice.services.cases.opening import source_report_summary
from backoffice.services.cases.operations import first_contact_delay
from backoffice.services.cases.referrals import referral_view, referrals_of
from backoffice.services.cases.rules import HOLD_CASES, staff_names
from backoffice.services.cases.sealed import SealedReader
from backoffice.services.cases.transfers import transfers_of
from backoffice.services.crypto import DecryptionError
from backoffice.services.paging import Page, paginate
from backoffice.services.spreadsheets import csv_text, spreadsheet_date
from backoffice.services.timezones import to_local, to_utc, zone_of_user
from backoffice.services.vocabulary import VIOLENCE_TYPES

PAGE_SIZE = 25
HISTORY_LENGTH = 50


# --- search and lists -------------------------------------------------------------------------


@dataclass
class CaseFilters:
    reference: str | None = None
    status: str | None = None  # a status, "current" (not closed) or None (all)
    need: str | None = None
    assignee_id: int | None = None  # 0 = unassigned
    opened_from: dt.date | None = None  # days in the reader's zone
    opened_to: dt.date | None = None
    urgent: bool = False


def case_select(actor, filters: CaseFilters) -> Select:
    """The actor's organisation's cases matching ``filters``: clear columns only."""
    statement = scoped_query(Case, actor)
    if filters.reference:
        pattern = filters.reference.strip().upper().replace("\\", "")
        pattern = pattern.replace("%", "").replace("_", "")
        statement = statement.where(Case.reference.like(f"%{pattern}%"))
    if filters.status == "current":
        statement = statement.where(Case.status != "closed")
    elif filters.status:
        statement = statement.where(Case.status == filters.status)
    if filters.need:
        statement = statement.where(
            exists(
                select(CaseNeed.id).where(
                    CaseNeed.case_id == Case.id, CaseNeed.need == filters.need
                )
            )
        )
    if filters.assignee_id == 0:
        statement = statement.where(Case.assignee_id.is_(None))
    elif filters.assignee_id:
        statement = statement.where(Case.assignee_id == filters.assignee_id)
    zone = zone_of_user(actor)
    if filters.opened_from:
        statement = statement.where(Case.opened_at >= to_utc(_midnight(filters.opened_from), zone))
    if filters.opened_to:
        end = to_utc(_midnight(filters.opened_to + dt.timedelta(days=1)), zone)
        statement = statement.where(Case.opened_at < end)
    if filters.urgent:
        statement = statement.where(
            exists(
                select(CaseFlag.id).where(
                    CaseFlag.case_id == Case.id,
                    CaseFlag.resolved_at.is_(None),
                    or_(CaseFlag.deadline.is_(None), CaseFlag.deadline > utcnow()),
                )
            )
        )
    return statement


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0))


def _newest_first(statement: Select) -> Select:
    return statement.order_by(Case.opened_at.desc(), Case.id.desc())


@dataclass
class CaseRow:
    id: int
    reference: str
    status: str
    source: str
    assignee: str | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    outcome: str | None
    needs: list[str]
    urgent_deadline: dt.datetime | None
    urgent_kind: str | None
    next_due: dt.date | None
    department: str | None
    erased: bool
    name: str | None = None


def list_cases(actor, filters: CaseFilters, page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    """One page of the actor's organisation's cases, newest first, as ``CaseRow`` items, in
    a fixed number of queries."""
    statement = _newest_first(case_select(actor, filters))
    found = paginate(
        statement.options(selectinload(Case.needs), selectinload(Case.open_flags)),
        page,
        page_size,
    )
    names = staff_names(actor) if found.items else {}
    next_due = _next_due(actor, [c.id for c in found.items])
    found.items = [_row(c, names, next_due) for c in found.items]
    return found


def _next_due(actor, case_ids: list[int]) -> dict[int, dt.date]:
    if not case_ids:
        return {}
    statement = (
        select(FollowUpAction.case_id, func.min(FollowUpAction.due_on))
        .where(FollowUpAction.case_id.in_(case_ids), FollowUpAction.done_at.is_(None))
        .group_by(FollowUpAction.case_id)
    )
    return dict(db.session.execute(scoped(statement, FollowUpAction, actor)).all())


def _row(case: Case, names: dict[int, str], next_due: dict[int, dt.date]) -> CaseRow:
    now = utcnow()
    running = [f for f in case.open_flags if (f.deadline or now) >= now]
    urgent = min(running, key=lambda f: f.deadline or dt.datetime.max, default=None)
    return CaseRow(
        id=case.id,
        reference=case.reference,
        status=case.status,
        source=case.source,
        assignee=names.get(case.assignee_id),
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        outcome=case.outcome,
        needs=[n.need for n in case.needs],
        urgent_deadline=urgent.deadline if urgent else None,
        urgent_kind=urgent.kind if urgent else None,
        next_due=next_due.get(case.id),
        department=case.department,
        erased=case.is_erased,
    )


def reveal_names(rows: list[CaseRow], actor) -> None:
    """On request, the names on one page of the list (each decryption audited)."""
    statement = scoped(select(Case).where(Case.id.in_([r.id for r in rows])), Case, actor)
    cases = {c.id: c for c in db.session.scalars(statement.options(joinedload(Case.data_key)))}
    for row in rows:
        case = cases.get(row.id)
        if case is not None and not case.is_erased:
            try:
                row.name = case.victim_name
            except DecryptionError:
                row.name = None


# --- export -----------------------------------------------------------------------------------

# Column labels, in the reader's language, and the cell each case gives (labels, not codes).
EXPORT_COLUMNS = (
    _l("Reference"),
    _l("Status"),
    _l("Source"),
    _l("Opened on"),
    _l("Closed on"),
    _l("Outcome"),
    _l("Followed by"),
    _l("Needs"),
    _l("Department"),
    _l("Violence"),
    _l("Erased"),
    _l("First contact"),
    _l("Hours to first contact"),
)


def export_csv(actor, filters: CaseFilters) -> str:
    """The filtered cases as a spreadsheet file: non-personal columns only (no contact, no
    notes), dates in the reader's zone; the export is audited."""
    names = staff_names(actor)
    statement = _newest_first(case_select(actor, filters)).options(selectinload(Case.needs))
    cases = db.session.scalars(statement).all()
    audit.record("cases_exported", object_type="Case", actor=actor, details={"rows": len(cases)})
    zone = zone_of_user(actor)
    return csv_text(EXPORT_COLUMNS, (_export_row(case, names, zone) for case in cases))


def _export_row(case: Case, names: dict[int, str], zone) -> list:
    def day(moment: dt.datetime | None) -> str:
        return spreadsheet_date(to_local(moment, zone).date()) if moment else ""

    def labels(vocabulary: dict, codes) -> str:
        return ", ".join(str(vocabulary.get(code, code)) for code in codes)

    return [
        case.reference,
        CASE_STATUSES.get(case.status, case.status),
        CASE_SOURCES.get(case.source, case.source),
        day(case.opened_at),
        day(case.closed_at),
        CASE_OUTCOMES.get(case.outcome, case.outcome) if case.outcome else "",
        names.get(case.assignee_id, ""),
        labels(NEEDS, (n.need for n in case.needs)),
        case.department or "",
        labels(VIOLENCE_TYPES, case.violence_types or []),
        _("yes") if case.is_erased else "",
        day(case.first_contact_at),
        _whole_hours(first_contact_delay(case)),
    ]


def _whole_hours(delay: dt.timedelta | None) -> int | str:
    return "" if delay is None else int(delay.total_seconds() // 3600)


# --- history ----------------------------------------------------------------------------------


def history_of(case: Case, limit: int = HISTORY_LENGTH) -> tuple[list[CaseEvent], int]:
    """The latest ``limit`` events of the case's history, and how many there are in all
    (counted by the same query)."""
    statement = select(CaseEvent, func.count().over()).where(CaseEvent.case_id == case.id)
    rows = db.session.execute(
        scoped(statement, CaseEvent, case)
        .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc())
        .limit(limit)
    ).all()
    return [row[0] for row in rows], (rows[0][1] if rows else 0)


def case_labels() -> dict[str, dict]:
    """Vocabularies for templates (codes -> translated labels)."""
    return {
        "statuses": CASE_STATUSES,
        "sources": CASE_SOURCES,
        "outcomes": CASE_OUTCOMES,
        "needs": NEEDS,
        "need_statuses": NEED_STATUSES,
        "flags": URGENT_FLAGS,
        "flag_resolutions": FLAG_RESOLUTIONS,
        "referral_statuses": REFERRAL_STATUSES,
        "action_kinds": ACTION_KINDS,
        "consent_channels": CONSENT_CHANNELS,
        "erasure_reasons": ERASURE_REASONS,
        "transfer_items": TRANSFER_ITEMS,
        "violence_types": VIOLENCE_TYPES,
        "events": CASE_EVENT_KINDS,
    }


# --- the case page ----------------------------------------------------------------------------


class Person(NamedTuple):
    id: int
    name: str


@dataclass
class CaseFile:
    """Everything the case page shows, read once."""

    case: Case
    contact: Contact | None
    notes: list[NoteView]
    referrals: list[dict]
    actions: list[dict]
    consents: list[CaseConsent]
    transfers: dict[str, list[CaseTransfer]]
    history: list[CaseEvent]
    history_total: int
    report: dict | None
    names: dict[int, str]  # every colleague, by id (authors, assignees, history)
    workers: list[Person]  # colleagues who may hold the case
    partners: list[Organisation]  # who she may agree to share her case with
    evidence: list[CaseEvidence]  # without the sealed images


# The case with what hangs off it once (key, report, received transfer) and its small
# collections, in one query: a few rows (needs x open flags x consents x evidence), never
# the notes, and of the evidence never the sealed images.
CASE_PAGE_OPTIONS = (
    joinedload(Case.data_key),
    joinedload(Case.report),
    joinedload(Case.received_transfer),
    joinedload(Case.needs),
    joinedload(Case.open_flags),
    joinedload(Case.consents).joinedload(CaseConsent.transfers),
    joinedload(Case.evidence).load_only(*EVIDENCE_LISTED),
)


def read_case(case_id: int, actor) -> CaseFile:
    """The case page of ``case_id`` for ``actor``, confidential fields decrypted (audited)."""
    case = scoped_get(Case, case_id, actor, options=CASE_PAGE_OPTIONS)
    organisations, names, workers = _organisations_and_colleagues(case)
    history, history_total = history_of(case)
    referrals = db.session.scalars(referrals_of(case)).all()
    actions = db.session.scalars(actions_of(case)).all()
    notes = db.session.scalars(notes_of(case)).all()
    # No query after this point: every field is decrypted with the case's key, unwrapped
    # once, and the page's reads are audited together, by one INSERT.
    sealed = SealedReader(case)
    page = CaseFile(
        case=case,
        contact=read_contact(case, sealed),
        notes=note_views(case, notes, actor, names, sealed),
        referrals=[referral_view(case, r, sealed) for r in referrals],
        actions=[action_view(case, a, sealed) for a in actions],
        consents=list(case.consents),
        transfers=transfers_of(case),
        history=history,
        history_total=history_total,
        report=source_report_summary(case),
        names=names,
        workers=workers,
        partners=[o for o in organisations if o.active and o.id != case.organisation_id],
        evidence=list(case.evidence),
    )
    sealed.audit()
    return page


def _organisations_and_colleagues(
    case: Case,
) -> tuple[list[Organisation], dict[int, str], list[Person]]:
    """Every organisation (partners, the names of those a consent or transfer names, the
    reader's own zone) and, joined to the case's organisation only, its staff with whether
    each may hold cases: one query."""
    colleague = aliased(StaffUser)
    may_hold = colleague.id.in_(holders(HOLD_CASES).with_only_columns(StaffUser.id).order_by(None))
    statement = (
        select(Organisation, colleague.id, colleague.first_name, colleague.last_name, may_hold)
        .outerjoin(
            colleague,
            and_(colleague.organisation_id == Organisation.id, scope_condition(colleague, case)),
        )
        .order_by(Organisation.name, Organisation.id, colleague.first_name, colleague.last_name)
    )
    organisations: dict[int, Organisation] = {}
    names: dict[int, str] = {}
    workers: list[Person] = []
    for organisation, user_id, first_name, last_name, holds in db.session.execute(statement):
        organisations.setdefault(organisation.id, organisation)
        if user_id is None:
            continue
        names[user_id] = f"{first_name} {last_name}".strip()
        if holds:
            workers.append(Person(user_id, names[user_id]))
    return list(organisations.values()), names, workers
