"""The audit trail as a person reads it: sentences ("Samia a lu 3 notes du dossier
C-2026-000001"), not rows of codes.

* ``journal`` gives a page of entries, newest first. The reads of one page view (the events a
  request wrote at the same moment, by the same person, about the same case) make one entry.
  The machine's own work (events without a person or an API client behind them: the
  dispatch batches every 30 seconds, retention, checkpoints) is left out unless asked for.
* ``export_csv`` gives the same sentences as a spreadsheet file (``spreadsheets.csv_pieces``),
  read and written a batch of events at a time: the trail grows with every read.
* ``readers_of_case`` answers "who read this person's file": each reader, how many times,
  and when last; the caller audits that it was asked.

The trail holds codes, counts and references, never personal data: so do the sentences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import String, and_, cast, func, or_, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.case import Case, CaseEvidence, CaseNote, Complaint, FollowUpAction, Referral
from backoffice.models.user import StaffUser
from backoffice.services import audit
from backoffice.services.audit import READ_ACTIONS, READ_SUFFIX
from backoffice.services.paging import Page, paginate
from backoffice.services.spreadsheets import csv_pieces
from backoffice.services.timezones import to_local

SYSTEM = "system"  # the actor name of events no person or API client caused
PAGE_SIZE = 100
EXPORT_BATCH = 2000  # events read at a time by the export

# "%(who)s …" sentences by action; an action missing here is said with its code.
SENTENCES: dict[str, object] = {
    "login": _l("%(who)s signed in"),
    "login_second_factor": _l("%(who)s confirmed her sign-in with the second factor"),
    "login_failed": _l("%(who)s failed to sign in"),
    "logout": _l("%(who)s signed out"),
    "session_ended": _l("%(who)s ended a session"),
    "password_changed": _l("%(who)s changed a password"),
    "second_factor_enabled": _l("%(who)s turned the second factor on"),
    "second_factor_disabled": _l("%(who)s turned the second factor off"),
    "second_factor_reset": _l("%(who)s reset a second factor"),
    "recovery_codes_regenerated": _l("%(who)s made new recovery codes"),
    "account_unlocked": _l("%(who)s unlocked an account"),
    "user_created": _l("%(who)s created a staff account"),
    "user_updated": _l("%(who)s changed a staff account"),
    "user_deleted": _l("%(who)s deleted a staff account"),
    "grant_requested": _l("%(who)s asked for an access change"),
    "report_received": _l("%(who)s received report %(object)s"),
    "report_viewed": _l("%(who)s opened report %(object)s"),
    "report_routed": _l("%(who)s passed report %(object)s to an association"),
    "report_erased": _l("%(who)s erased report %(object)s"),
    "report_redaction_reviewed": _l("%(who)s reviewed the redaction of report %(object)s"),
    "alert_drafted": _l("%(who)s drafted alert %(object)s"),
    "alert_draft_updated": _l("%(who)s changed the draft alert %(object)s"),
    "alert_draft_discarded": _l("%(who)s discarded the draft alert %(object)s"),
    "alert_published": _l("%(who)s published alert %(object)s"),
    "alert_retracted": _l("%(who)s retracted alert %(object)s"),
    "alert_expired": _l("%(who)s: alert %(object)s expired"),
    "alert_dispatch_enqueued": _l("%(who)s sent alert %(object)s out"),
    "identifier_checked": _l("%(who)s checked an identifier"),
    "case_opened": _l("%(who)s opened case %(object)s"),
    "case_received": _l("%(who)s received case %(object)s"),
    "case_updated": _l("%(who)s changed case %(object)s"),
    "case_assigned": _l("%(who)s assigned case %(object)s"),
    "case_status_changed": _l("%(who)s changed the status of case %(object)s"),
    "case_closed": _l("%(who)s closed case %(object)s"),
    "case_reopened": _l("%(who)s reopened case %(object)s"),
    "case_erased": _l("%(who)s erased case %(object)s"),
    "case_transferred": _l("%(who)s transferred case %(object)s"),
    "case_needs_updated": _l("%(who)s updated the needs of case %(object)s"),
    "case_flag_raised": _l("%(who)s raised an urgent flag on case %(object)s"),
    "case_flag_resolved": _l("%(who)s resolved an urgent flag on case %(object)s"),
    "case_note_added": _l("%(who)s added a note to case %(case)s"),
    "case_note_corrected": _l("%(who)s corrected a note of case %(case)s"),
    "case_note_edited": _l("%(who)s edited a note of case %(case)s"),
    "case_action_added": _l("%(who)s planned an action on case %(case)s"),
    "case_action_done": _l("%(who)s marked an action of case %(case)s done"),
    "case_readers_listed": _l("%(who)s looked at who read case %(object)s"),
    "cases_exported": _l("%(who)s exported the cases"),
    "subscriber_viewed": _l("%(who)s opened a subscriber's record"),
    "subscriber_registered": _l("%(who)s registered a subscriber"),
    "subscriber_updated": _l("%(who)s changed a subscriber's record"),
    "subscriber_unsubscribed": _l("%(who)s unsubscribed a subscriber"),
    "subscribers_imported": _l("%(who)s imported subscribers"),
    "outreach_session_created": _l("%(who)s started an outreach session"),
    "outreach_session_closed": _l("%(who)s closed an outreach session"),
    "outreach_contacts_added": _l("%(who)s added contacts to an outreach session"),
    "outreach_outcomes_logged": _l("%(who)s recorded outreach outcomes"),
    "organisation_created": _l("%(who)s created a partner association"),
    "organisation_updated": _l("%(who)s changed a partner association"),
    "api_client_created": _l("%(who)s created an API client"),
    "api_client_key_rotated": _l("%(who)s renewed an API client's key"),
    "statistics_exported": _l("%(who)s exported statistics"),
    "funder_report_requested": _l("%(who)s asked for a funder report"),
    "funder_report_downloaded": _l("%(who)s downloaded a funder report"),
    "directory_exported": _l("%(who)s exported the directory"),
    "directory_imported": _l("%(who)s imported structures into the directory"),
    "audit_verified": _l("%(who)s checked the audit trail"),
    "audit_exported": _l("%(who)s exported the audit trail"),
    "dispatch_batch": _l("%(who)s sent a batch of alerts"),
    "keys_rotated": _l("%(who)s rotated the encryption keys"),
}
OUTCOMES: dict[str, object] = {
    "success": _l("Done"),
    "failure": _l("Failed"),
    "refused": _l("Refused"),
}
# What a read is of, counted: "3 notes", "1 referral".
READ_THINGS: dict[str, Callable[[int], str]] = {
    "CaseNote": lambda n: ngettext("%(num)d note", "%(num)d notes", n),
    "Referral": lambda n: ngettext("%(num)d referral", "%(num)d referrals", n),
    "FollowUpAction": lambda n: ngettext("%(num)d action", "%(num)d actions", n),
    "CaseEvidence": lambda n: ngettext(
        "%(num)d piece of evidence", "%(num)d pieces of evidence", n
    ),
    "Complaint": lambda n: ngettext("%(num)d complaint", "%(num)d complaints", n),
    "Report": lambda n: ngettext("%(num)d report", "%(num)d reports", n),
    "ReportIdentifier": lambda n: ngettext("%(num)d identifier", "%(num)d identifiers", n),
    "Subscriber": lambda n: ngettext(
        "the details of %(num)d subscriber", "the details of %(num)d subscribers", n
    ),
}
# The rows of a case whose reads count as reads of the case (for "who read this file").
CASE_ROWS = (CaseNote, Referral, FollowUpAction, CaseEvidence, Complaint)


@dataclass
class Entry:
    """One line of the journal: one event, or the reads of one page view."""

    occurred_at: dt.datetime
    actor_name: str
    action: str
    outcome: str
    event_ids: list[int]
    object_type: str | None = None
    object_id: str | None = None
    case: str | None = None
    reads: dict[str, int] = field(default_factory=dict)
    sentence: str = ""

    @property
    def is_system(self) -> bool:
        return self.actor_name == SYSTEM


@dataclass
class Reader:
    actor_name: str
    name: str
    times: int
    last: dt.datetime


def journal_statement(
    *, include_system: bool = False, who: str = "", reference: str = ""
) -> object:
    """The events of the journal, newest first (the trail is programme-wide: its readers are
    the data-protection officer and Admins)."""
    statement = select(AuditEvent).where(AuditEvent.pruned_at.is_(None))
    if not include_system:
        statement = statement.where(AuditEvent.actor_name != SYSTEM)
    if who:
        statement = statement.where(AuditEvent.actor_name == who)
    if reference:
        # the object itself, or a row of it (a note's read names its case in the details)
        statement = statement.where(
            or_(
                AuditEvent.object_id == reference,
                AuditEvent.details["case"].as_string() == reference,
            )
        )
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def journal(
    number: int, *, include_system: bool = False, who: str = "", reference: str = ""
) -> tuple[Page, list[Entry]]:
    """Page ``number`` of the events and the entries they make."""
    statement = journal_statement(include_system=include_system, who=who, reference=reference)
    page = paginate(statement, number, PAGE_SIZE)
    return page, entries_of(page.items)


def entries_of(events: Iterable[AuditEvent]) -> list[Entry]:
    """Events (newest first) as entries, each with its sentence."""
    entries: list[Entry] = []
    previous: AuditEvent | None = None
    for event in events:
        same_read = previous is not None and _same_read(previous, event)
        previous = event
        if same_read:
            last = entries[-1]
            last.event_ids.append(event.id)
            last.reads[event.object_type or ""] = last.reads.get(event.object_type or "", 0) + 1
            continue
        entry = Entry(
            occurred_at=event.occurred_at,
            actor_name=event.actor_name,
            action=event.action,
            outcome=event.outcome,
            event_ids=[event.id],
            object_type=event.object_type,
            object_id=event.object_id,
            case=_case_of(event),
        )
        if event.action == "decrypt":
            entry.reads[event.object_type or ""] = 1
        entries.append(entry)
    names = staff_names({entry.actor_name for entry in entries})
    for entry in entries:
        entry.sentence = sentence(entry, names)
    return entries


def _same_read(earlier: AuditEvent, event: AuditEvent) -> bool:
    """Whether ``event`` is one more read of the page view ``earlier`` belongs to."""
    return (
        earlier.action == event.action == "decrypt"
        and earlier.actor_name == event.actor_name
        and earlier.occurred_at == event.occurred_at
        and _case_of(earlier) == _case_of(event)
    )


def _case_of(event: AuditEvent) -> str | None:
    case = (event.details or {}).get("case")
    return case if isinstance(case, str) else None


def staff_names(usernames: set[str]) -> dict[str, str]:
    """First and last names of staff by username (staff are not the people the platform
    protects: their names are what a reader of the trail needs)."""
    usernames = {name for name in usernames if name and name != SYSTEM}
    if not usernames:
        return {}
    rows = db.session.execute(
        select(StaffUser.username, StaffUser.first_name, StaffUser.last_name).where(
            StaffUser.username.in_(usernames)
        )
    )
    return {row.username: f"{row.first_name} {row.last_name}".strip() for row in rows}


def who_is(actor_name: str, names: dict[str, str]) -> str:
    if actor_name == SYSTEM:
        return _("The system")
    if actor_name.startswith("api:"):
        return _("API client %(name)s", name=actor_name[4:])
    return names.get(actor_name) or actor_name


def _things(reads: dict[str, int]) -> str:
    parts = []
    for object_type, count in sorted(reads.items()):
        if object_type == "Case":
            parts.append(_("the contact details"))
        elif object_type in READ_THINGS:
            parts.append(READ_THINGS[object_type](count))
        else:
            parts.append(
                ngettext("%(num)d confidential field", "%(num)d confidential fields", count)
            )
    if len(parts) > 1:
        return _("%(first)s and %(last)s", first=", ".join(parts[:-1]), last=parts[-1])
    return parts[0] if parts else ""


def sentence(entry: Entry, names: dict[str, str]) -> str:
    """What happened, in one sentence of the reader's language."""
    who = who_is(entry.actor_name, names)
    if entry.action == "decrypt":
        things = _things(entry.reads)
        if entry.case:
            said = _(
                "%(who)s read %(things)s of case %(case)s", who=who, things=things, case=entry.case
            )
        elif entry.reads.keys() == {"Report"} and len(entry.event_ids) == 1:
            said = _("%(who)s read report %(reference)s", who=who, reference=entry.object_id)
        else:
            said = _("%(who)s read %(things)s", who=who, things=things)
    elif entry.action in SENTENCES:
        said = str(SENTENCES[entry.action]) % {
            "who": who,
            "object": entry.object_id or "—",
            "case": entry.case or entry.object_id or "—",
        }
    else:
        said = _("%(who)s: %(action)s", who=who, action=entry.action.replace("_", " "))
        if entry.object_id:
            said = _("%(sentence)s (%(object)s)", sentence=said, object=entry.object_id)
    if entry.outcome != "success":
        outcome = OUTCOMES.get(entry.outcome, entry.outcome)
        said = _("%(sentence)s: %(outcome)s", sentence=said, outcome=str(outcome).lower())
    return said


def export_csv(
    *,
    include_system: bool = False,
    who: str = "",
    reference: str = "",
    zone=None,
    batch: int = EXPORT_BATCH,
) -> Iterator[str]:
    """The journal as a spreadsheet file, in pieces: when (local time), who, what, outcome,
    reference (a view streams it with ``transactions.streamed_after_commit``)."""
    statement = journal_statement(include_system=include_system, who=who, reference=reference)
    events = (event for events in _keyset_batches(statement, batch) for event in events)
    header = (_l("When"), _l("Who"), _l("What happened"), _l("Outcome"), _l("Reference"))
    rows = (
        (
            to_local(entry.occurred_at, zone).strftime("%d/%m/%Y %H:%M:%S"),
            entry.actor_name,
            entry.sentence,
            OUTCOMES.get(entry.outcome, entry.outcome),
            entry.case or entry.object_id or "",
        )
        for events_of_batch in _batches(events, batch)
        for entry in entries_of(events_of_batch)
    )
    yield from csv_pieces(header, rows)


def _keyset_batches(statement, size: int) -> Iterator[list[AuditEvent]]:
    """The journal's events ``size`` at a time, each batch a query of its own that starts
    after the last event of the one before (newest first by time, then id)."""
    last: AuditEvent | None = None
    while True:
        page = statement
        if last is not None:
            page = page.where(
                or_(
                    AuditEvent.occurred_at < last.occurred_at,
                    and_(AuditEvent.occurred_at == last.occurred_at, AuditEvent.id < last.id),
                )
            )
        events = db.session.scalars(page.limit(size)).all()
        if not events:
            return
        yield events
        last = events[-1]


def _batches(events: Iterable[AuditEvent], size: int) -> Iterator[list[AuditEvent]]:
    """Lists of about ``size`` events, never cutting the reads of one page view in two."""
    batch: list[AuditEvent] = []
    for event in events:
        if len(batch) >= size and not _same_read(batch[-1], event):
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


def readers_of_case(case: Case) -> list[Reader]:
    """Who read the file of ``case`` (its contact details or any of its confidential rows):
    each reader, how many times (page views, not fields) and when last, most recent first.
    Asking is itself recorded (``case_readers_listed``, which is not a read of the file)."""
    targets = [and_(AuditEvent.object_type == "Case", AuditEvent.object_id == case.reference)]
    for model in CASE_ROWS:
        ids = select(cast(model.id, String)).where(model.case_id == case.id)
        targets.append(
            and_(AuditEvent.object_type == model.__name__, AuditEvent.object_id.in_(ids))
        )
    read = or_(AuditEvent.action.in_(READ_ACTIONS), AuditEvent.action.like(f"%{READ_SUFFIX}"))
    statement = (
        select(
            AuditEvent.actor_name,
            func.count(func.distinct(AuditEvent.occurred_at)).label("times"),
            func.max(AuditEvent.occurred_at).label("last"),
        )
        .where(read, or_(*targets), AuditEvent.pruned_at.is_(None))
        .group_by(AuditEvent.actor_name)
        .order_by(func.max(AuditEvent.occurred_at).desc())
    )
    rows = db.session.execute(statement).all()
    audit.record("case_readers_listed", case, details={"readers": len(rows)})
    names = staff_names({row.actor_name for row in rows})
    return [
        Reader(row.actor_name, who_is(row.actor_name, names), row.times, row.last) for row in rows
    ]
