"""Victim follow-up: every rule about cases, notes, referrals, transfers, actions and erasure.

Views and jobs call these functions; none of them reads the Flask request. The caller passes
the acting user (``actor``); every lookup by id is limited to the actor's organisation, so a
guessed id of another association's row is simply "not found".

Choices worth knowing:

* A case opened from a routed report copies what follow-up needs — incident date and time
  (for treatment deadlines), department, violence types — and re-seals the victim's contact
  under the case's own key. The report's narrative is restricted (moderators only) and is not
  shown: the social worker hears the story from the person herself, in her own words.
* Urgent deadlines: after a rape, an attempted rape or a non-consensual condom removal, HIV
  post-exposure treatment must start within 48 hours of the exposure. The deadline is stored
  (naive UTC, computed in the department's time zone, from the start of the day when the
  time is unknown, which errs on the early side) and the time left is computed on display.
  The flag is only raised while the deadline is still ahead.
* Notes: editable by their author for ``CASE_NOTE_EDIT_MINUTES`` (default 15), then
  append-only; later changes are corrections attached to the note.
* First contact: a social worker records, once, when she first reached the person (the
  statistics' "time to first contact" runs from the opening to it). Declared, never guessed
  from notes; not in the future, not before the opening, not after the closure.
* Transfers need the person's recorded consent to sharing with that named association; the
  receiving association gets a new case with only the chosen items, the sender keeps its own.
* Erasure destroys the case's data key: contact details, notes, referral notes and action
  details become unreadable for good (and their columns are cleared); the victim's contact
  in the report the case came from is erased too. Only non-personal facts remain.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    ACTION_KINDS,
    CASE_EVENT_KINDS,
    CASE_OUTCOMES,
    CASE_SEALED_COLUMNS,
    CASE_STATUSES,
    CONSENT_CHANNELS,
    ERASURE_REASONS,
    FLAG_DELAYS_HOURS,
    FLAG_RESOLUTIONS,
    NEED_STATUSES,
    NEEDS,
    REFERRAL_STATUSES,
    TRANSFER_ITEMS,
    URGENT_FLAGS,
    Case,
    CaseConsent,
    CaseEvent,
    CaseFlag,
    CaseNeed,
    CaseNote,
    CaseTransfer,
    FollowUpAction,
    Referral,
)
from backoffice.models.organisation import Organisation
from backoffice.models.user import StaffUser
from backoffice.services import audit, confidential, identifiers, references
from backoffice.services.crypto import (
    DecryptionError,
    associated_data,
    open_with_data_key,
)
from backoffice.services.vocabulary import DEPARTMENTS, VIOLENCE_TYPES

log = logging.getLogger(__name__)

REFERENCE_PREFIX = "C"
NOTE_MAX_LENGTH = 20_000
SHORT_TEXT_MAX_LENGTH = 2_000
NAME_MAX_LENGTH = 120
PAGE_SIZE = 25
# Exposures after which HIV post-exposure treatment (PEP) is indicated.
PEP_VIOLENCE_TYPES = frozenset({"rape", "attempted_rape", "condom_removal"})
PARIS = "Europe/Paris"
OVERSEAS_ZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}
STATUS_TRANSITIONS = {
    "open": {"active", "waiting"},
    "active": {"waiting"},
    "waiting": {"active"},
    "closed": set(),
}
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


class CaseRuleError(ValueError):
    """A request the rules refuse; ``message`` is shown to the user as it is."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.field = field_name


class CaseNotFound(LookupError):
    """No such row in the actor's organisation (another association's rows included)."""


# --- time ---------------------------------------------------------------------------------


def zone_for(department: str | None) -> ZoneInfo:
    return ZoneInfo(OVERSEAS_ZONES.get(department or "", PARIS))


def to_utc(local: dt.datetime, department: str | None) -> dt.datetime:
    """A wall-clock time in the department's zone as naive UTC (how times are stored)."""
    aware = local.replace(tzinfo=zone_for(department))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def to_local(moment: dt.datetime, department: str | None = None) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(zone_for(department))


def local_today(department: str | None = None) -> dt.date:
    return to_local(utcnow(), department).date()


def flag_deadline(
    kind: str, incident_date: dt.date | None, incident_time: dt.time | None, department: str | None
) -> dt.datetime | None:
    """The deadline medicine sets for ``kind``, counted from the incident (naive UTC)."""
    hours = FLAG_DELAYS_HOURS.get(kind)
    if hours is None or incident_date is None:
        return None
    start = dt.datetime.combine(incident_date, incident_time or dt.time(0, 0))
    return to_utc(start, department) + dt.timedelta(hours=hours)


def time_left(deadline: dt.datetime | None, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Time until the deadline; negative once it passed; None without a deadline."""
    if deadline is None:
        return None
    return deadline - (now or utcnow())


def describe_time_left(left: dt.timedelta | None) -> str:
    """ "31 h 20 min left" or "passed 3 h 5 min ago", in the user's language."""
    if left is None:
        return ""
    span = describe_span(left)
    if left.total_seconds() >= 0:
        return _("%(span)s left", span=span)
    return _("passed %(span)s ago", span=span)


def describe_span(delta: dt.timedelta) -> str:
    """ "31 h 20 min", or "4 d 3 h" from 72 hours on, in the user's language."""
    minutes = int(abs(delta).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24) if hours >= 72 else (0, hours)
    if days:
        return _("%(days)d d %(hours)d h", days=days, hours=hours)
    return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)


def note_edit_minutes() -> int:
    return int(current_app.config.get("CASE_NOTE_EDIT_MINUTES", 15))


# --- input checks ---------------------------------------------------------------------------


def clean_text(value: str | None, max_length: int, field_name: str, required: bool = False):
    """Trimmed text or None; refuses control characters and over-long values."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        if required:
            raise CaseRuleError(_("This field is required."), field_name)
        return None
    if len(text) > max_length:
        raise CaseRuleError(
            _("This text is too long (at most %(n)d characters).", n=max_length), field_name
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text):
        raise CaseRuleError(_("This text contains characters that are not allowed."), field_name)
    return text


def _check_code(value: str | None, allowed: dict, field_name: str, required: bool = True):
    if not value:
        if required:
            raise CaseRuleError(_("Choose a value from the list."), field_name)
        return None
    if value not in allowed:
        raise CaseRuleError(_("This value is not one of the choices."), field_name)
    return value


def _check_codes(values: Iterable[str], allowed, field_name: str) -> list[str]:
    values = list(dict.fromkeys(v for v in values if v))
    if any(v not in allowed for v in values):
        raise CaseRuleError(_("This value is not one of the choices."), field_name)
    return values


_PHONE_TEXT = re.compile(r"\+?[0-9][0-9 ().\-/]{6,24}")


def normalise_phone(value: str | None) -> str | None:
    """E.164 when the number is known valid; otherwise as typed if it looks like a phone.

    The numbering metadata lags behind newly opened ranges: refusing the number a person
    gives would lose the only way to reach her, so a plausible number is kept as typed.
    """
    text = clean_text(value, 40, "victim_phone")
    if text is None:
        return None
    normalised = identifiers.try_normalise("phone", text)
    if normalised is not None:
        return normalised
    if _PHONE_TEXT.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 8:
        return " ".join(text.split())
    raise CaseRuleError(
        _("This phone number is not valid. Foreign numbers start with + and the country code."),
        "victim_phone",
    )


def normalise_email(value: str | None) -> str | None:
    text = clean_text(value, 320, "victim_email")
    if text is None:
        return None
    normalised = identifiers.try_normalise("email", text)
    if normalised is None:
        raise CaseRuleError(_("This email address is not valid."), "victim_email")
    return normalised


def display_phone(stored: str | None) -> str | None:
    if stored and stored.startswith("+") and stored[1:].isdigit():
        return identifiers.display("phone", stored)
    return stored


@dataclass
class Contact:
    """The victim's contact details, in clear, on their way in or out of the sealed columns."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str | None = None
    instructions: str | None = None

    def cleaned(self) -> Contact:
        return Contact(
            name=clean_text(self.name, NAME_MAX_LENGTH, "victim_name"),
            phone=normalise_phone(self.phone),
            email=normalise_email(self.email),
            preferred_language=clean_text(self.preferred_language, 35, "preferred_language"),
            instructions=clean_text(self.instructions, SHORT_TEXT_MAX_LENGTH, "instructions"),
        )


@dataclass
class CaseFacts:
    """What happened, in the clear non-personal terms a case keeps."""

    incident_date: dt.date | None = None
    incident_time: dt.time | None = None
    department: str | None = None
    violence_types: list[str] = field(default_factory=list)

    def cleaned(self) -> CaseFacts:
        if self.incident_date and self.incident_date > local_today(self.department):
            raise CaseRuleError(_("The incident date cannot be in the future."), "incident_date")
        if self.incident_time and not self.incident_date:
            raise CaseRuleError(_("Give the date with the time."), "incident_date")
        if self.department and self.department not in DEPARTMENTS:
            raise CaseRuleError(_("Unknown department."), "department")
        types = _check_codes(self.violence_types, VIOLENCE_TYPES, "violence_types")
        return CaseFacts(self.incident_date, self.incident_time, self.department or None, types)


# --- loading, always within the actor's organisation -----------------------------------------


def _organisation_of(actor) -> int:
    organisation_id = getattr(actor, "organisation_id", None)
    if organisation_id is None:
        raise CaseNotFound("no organisation")
    return organisation_id


def _get_owned(model, row_id: int, actor):
    row = db.session.get(model, row_id)
    if row is None or row.organisation_id != _organisation_of(actor):
        raise CaseNotFound(model.__name__)
    return row


def get_case(case_id: int, actor) -> Case:
    return _get_owned(Case, case_id, actor)


def get_note(note_id: int, actor) -> CaseNote:
    return _get_owned(CaseNote, note_id, actor)


def get_referral(referral_id: int, actor) -> Referral:
    return _get_owned(Referral, referral_id, actor)


def get_action(action_id: int, actor) -> FollowUpAction:
    return _get_owned(FollowUpAction, action_id, actor)


def get_flag(flag_id: int, actor) -> CaseFlag:
    return _get_owned(CaseFlag, flag_id, actor)


def get_consent(consent_id: int, actor) -> CaseConsent:
    return _get_owned(CaseConsent, consent_id, actor)


def social_workers(organisation_id: int) -> list[StaffUser]:
    """Active social workers of an organisation: who a case or an action can go to."""
    from backoffice.security import SOCIAL_WORKER

    users = db.session.scalars(
        select(StaffUser)
        .where(StaffUser.organisation_id == organisation_id, StaffUser.active.is_(True))
        .options(selectinload(StaffUser.roles))
        .order_by(StaffUser.first_name, StaffUser.last_name)
    ).all()
    return [u for u in users if u.has_role(SOCIAL_WORKER)]


def staff_names(organisation_id: int) -> dict[int, str]:
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.first_name, StaffUser.last_name).where(
            StaffUser.organisation_id == organisation_id
        )
    )
    return {row.id: f"{row.first_name} {row.last_name}".strip() for row in rows}


def _check_assignee(organisation_id: int, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    if user_id not in {u.id for u in social_workers(organisation_id)}:
        raise CaseRuleError(_("Choose a social worker of your association."), "assignee_id")
    return user_id


def _require_live(case: Case) -> None:
    if case.is_erased:
        raise CaseRuleError(_("This case was erased: nothing can be added to it."))


def _require_not_closed(case: Case) -> None:
    _require_live(case)
    if case.status == "closed":
        raise CaseRuleError(_("This case is closed. Reopen it first."))


def _event(case: Case, what: str, actor, **details) -> None:
    db.session.add(
        CaseEvent(
            case_id=case.id,
            organisation_id=case.organisation_id,
            occurred_at=utcnow(),
            actor_id=getattr(actor, "id", None),
            kind=what,
            details=details,
        )
    )


# --- opening ----------------------------------------------------------------------------------


def _case_reference() -> str:
    """``C-2026-000123``, from the same counters as reports and alerts."""
    return references.next_reference(REFERENCE_PREFIX)


def _new_case(organisation_id: int, source: str, actor, assignee_id: int | None = None) -> Case:
    case = Case(
        organisation_id=organisation_id,
        reference=_case_reference(),
        status="open",
        source=source,
        assignee_id=assignee_id,
        created_by_id=getattr(actor, "id", None) if source != "transfer" else None,
        opened_at=utcnow(),
        violence_types=[],
    )
    db.session.add(case)
    # The case's own key exists from the start: notes, referrals and actions share it.
    confidential.data_key_of(case)
    db.session.flush()
    return case


def _seal_contact(case: Case, contact: Contact) -> None:
    case.victim_name = contact.name
    case.victim_phone = contact.phone
    case.victim_email = contact.email
    case.victim_preferred_language = contact.preferred_language
    case.contact_instructions = contact.instructions


def _apply_facts(case: Case, facts: CaseFacts) -> None:
    case.incident_date = facts.incident_date
    case.incident_time = facts.incident_time
    case.department = facts.department
    case.violence_types = list(facts.violence_types)


def open_direct(
    actor,
    contact: Contact,
    facts: CaseFacts,
    needs: Iterable[str] = (),
    assignee_id: int | None = None,
    consent_follow_up: bool = False,
) -> Case:
    """A social worker opens a case for a person met in the field."""
    if not consent_follow_up:
        raise CaseRuleError(
            _("A case needs the person's consent to follow-up. Ask her first."),
            "consent_follow_up",
        )
    organisation_id = _organisation_of(actor)
    contact, facts = contact.cleaned(), facts.cleaned()
    needs = _check_codes(needs, NEEDS, "needs")
    assignee_id = _check_assignee(organisation_id, assignee_id)
    case = _new_case(organisation_id, "direct", actor, assignee_id)
    _seal_contact(case, contact)
    _apply_facts(case, facts)
    case.needs = [CaseNeed(need=code, status="identified") for code in needs]
    _raise_deadline_flags(case, actor)
    _event(case, "opened", actor, source="direct")
    audit.record("case_opened", case, actor=actor, details={"source": "direct"})
    return case


def routable_reports(limit: int = 200) -> list:
    """Reports whose victim asked for follow-up and that no case follows yet, newest first."""
    from backoffice.models.report import Report

    routed = exists(select(Case.id).where(Case.report_id == Report.id))
    return db.session.scalars(
        select(Report)
        .where(Report.consent_follow_up.is_(True), ~routed, Report.status != "rejected")
        .order_by(Report.received_at.desc())
        .limit(limit)
    ).all()


def pep_deadline_of(report) -> dt.datetime | None:
    """The 48-hour treatment deadline a report calls for, while it is still ahead."""
    if not PEP_VIOLENCE_TYPES & set(report.violence_types or []):
        return None
    deadline = flag_deadline("pep", report.incident_date, report.incident_time, report.department)
    return deadline if deadline is not None and deadline > utcnow() else None


def routing_organisations() -> list[Organisation]:
    """Where a report can be routed: active associations with an active social worker."""
    from backoffice.security import SOCIAL_WORKER

    organisations = db.session.scalars(
        select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.name)
    ).all()
    staffed = {
        u.organisation_id
        for u in db.session.scalars(
            select(StaffUser)
            .where(StaffUser.active.is_(True), StaffUser.organisation_id.is_not(None))
            .options(selectinload(StaffUser.roles))
        )
        if u.has_role(SOCIAL_WORKER)
    }
    return [o for o in organisations if o.id in staffed]


def route_report(report_id: int, organisation_id: int, actor) -> Case:
    """A moderator hands a report's follow-up to an organisation: a case opens there."""
    from backoffice.models.report import Report

    report = db.session.get(Report, report_id)
    if report is None or not report.consent_follow_up or report.status == "rejected":
        raise CaseNotFound("report")
    if db.session.scalar(select(Case.id).where(Case.report_id == report.id)) is not None:
        raise CaseRuleError(_("This report was already routed."))
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or organisation not in routing_organisations():
        raise CaseRuleError(
            _("Choose an active partner association with social workers."), "organisation_id"
        )
    case = _new_case(organisation.id, "routed", actor)
    case.report_id = report.id
    case.intake_consent_share = bool(report.consent_share_with_partner)
    # Decrypted under the report's key and sealed at once under the case's own.
    contact = Contact(
        name=report.victim_pseudonym,
        phone=report.victim_phone,
        email=report.victim_email,
        preferred_language=report.victim_preferred_language or report.language,
    )
    _seal_contact(case, contact)
    _apply_facts(
        case,
        CaseFacts(
            report.incident_date,
            report.incident_time,
            report.department,
            list(report.violence_types or []),
        ),
    )
    _raise_deadline_flags(case, actor)
    _event(case, "opened", actor, source="routed", report=report.reference)
    audit.record(
        "report_routed",
        report,
        actor=actor,
        organisation_id=organisation.id,
        details={"case": case.reference, "organisation": organisation.id},
    )
    audit.record("case_opened", case, actor=actor, details={"source": "routed"})
    return case


def source_report_summary(case: Case) -> dict | None:
    """What the organisation sees of the report a case came from (no narrative)."""
    report = case.report
    if report is None:
        return None
    return {
        "reference": report.reference,
        "received_at": report.received_at,
        "channel": report.channel,
        "severity": report.severity,
        "reporter_relation": report.reporter_relation,
        "consent_publish_alert": report.consent_publish_alert,
        "consent_statistics": report.consent_statistics,
    }


# --- assessment -----------------------------------------------------------------------------


def read_contact(case: Case) -> Contact | None:
    """The contact details in clear (each read is audited); None once erased."""
    if case.is_erased:
        return None
    try:
        return Contact(
            name=case.victim_name,
            phone=case.victim_phone,
            email=case.victim_email,
            preferred_language=case.victim_preferred_language,
            instructions=case.contact_instructions,
        )
    except DecryptionError:
        log.error("Case %s: contact details could not be decrypted", case.id)
        return None


def update_case(case: Case, actor, contact: Contact, facts: CaseFacts) -> None:
    """Correct the contact details and the facts; deadlines follow the facts."""
    _require_live(case)
    contact, facts = contact.cleaned(), facts.cleaned()
    _seal_contact(case, contact)
    _apply_facts(case, facts)
    _raise_deadline_flags(case, actor)
    _event(case, "updated", actor)
    audit.record("case_updated", case, actor=actor)


def assign(case: Case, assignee_id: int | None, actor) -> None:
    _require_live(case)
    case.assignee_id = _check_assignee(case.organisation_id, assignee_id)
    _event(case, "assigned", actor, assignee=case.assignee_id)
    audit.record("case_assigned", case, actor=actor, details={"assignee": case.assignee_id})


def set_needs(case: Case, statuses: dict[str, str | None], actor) -> None:
    """Make the assessment match ``statuses`` (need code -> status, None to remove)."""
    _require_live(case)
    _check_codes(statuses, NEEDS, "needs")
    _check_codes([s for s in statuses.values() if s], NEED_STATUSES, "needs")
    current = {n.need: n for n in case.needs}
    for need, status in statuses.items():
        row = current.get(need)
        if status is None and row is not None:
            case.needs.remove(row)
        elif status is not None and row is None:
            case.needs.append(CaseNeed(need=need, status=status))
        elif row is not None and row.status != status:
            row.status = status
    _event(case, "needs_updated", actor, needs={n: s for n, s in statuses.items() if s})
    audit.record("case_needs_updated", case, actor=actor, details={"needs": len(case.needs)})


def _raise_deadline_flags(case: Case, actor) -> None:
    """Raise (or move) the PEP flag when the facts call for it and time is left."""
    if not PEP_VIOLENCE_TYPES & set(case.violence_types or []):
        return
    deadline = flag_deadline("pep", case.incident_date, case.incident_time, case.department)
    existing = next((f for f in case.flags if f.kind == "pep" and f.resolved_at is None), None)
    if existing is not None:
        existing.deadline = deadline
        return
    if deadline is None or deadline <= utcnow():
        return
    case.flags.append(
        CaseFlag(
            organisation_id=case.organisation_id,
            kind="pep",
            deadline=deadline,
            created_by_id=getattr(actor, "id", None),
        )
    )


def add_flag(case: Case, kind: str, actor, deadline_local: dt.datetime | None = None) -> CaseFlag:
    """An urgent flag; medical ones get their deadline from the incident unless given."""
    _require_not_closed(case)
    _check_code(kind, URGENT_FLAGS, "kind")
    if any(f.kind == kind and f.resolved_at is None for f in case.flags):
        raise CaseRuleError(_("This flag is already raised on the case."), "kind")
    deadline = (
        to_utc(deadline_local, case.department)
        if deadline_local is not None
        else flag_deadline(kind, case.incident_date, case.incident_time, case.department)
    )
    flag = CaseFlag(
        organisation_id=case.organisation_id,
        kind=kind,
        deadline=deadline,
        created_by_id=actor.id,
    )
    case.flags.append(flag)
    _event(case, "flag_raised", actor, kind=kind)
    audit.record("case_flag_raised", case, actor=actor, details={"kind": kind})
    return flag


def resolve_flag(flag: CaseFlag, resolution: str, actor) -> None:
    _check_code(resolution, FLAG_RESOLUTIONS, "resolution")
    if flag.resolved_at is not None:
        raise CaseRuleError(_("This flag was already resolved."))
    flag.resolved_at, flag.resolution, flag.resolved_by_id = utcnow(), resolution, actor.id
    _event(flag.case, "flag_resolved", actor, kind=flag.kind, resolution=resolution)
    audit.record(
        "case_flag_resolved", flag.case, actor=actor, details={"kind": flag.kind, "to": resolution}
    )


# --- status ---------------------------------------------------------------------------------


def change_status(case: Case, status: str, actor) -> None:
    _require_not_closed(case)
    _check_code(status, CASE_STATUSES, "status")
    if status not in STATUS_TRANSITIONS[case.status]:
        raise CaseRuleError(_("This change of status is not possible."), "status")
    before, case.status = case.status, status
    _event(case, "status_changed", actor, before=before, after=status)
    audit.record("case_status_changed", case, actor=actor, details={"from": before, "to": status})


def close_case(case: Case, outcome: str, actor) -> None:
    _require_not_closed(case)
    if outcome == "erased":
        raise CaseRuleError(_("This value is not one of the choices."), "outcome")
    _check_code(outcome, CASE_OUTCOMES, "outcome")
    before = case.status
    case.status, case.outcome, case.closed_at = "closed", outcome, utcnow()
    _event(case, "closed", actor, outcome=outcome)
    audit.record("case_closed", case, actor=actor, details={"from": before, "outcome": outcome})


def reopen_case(case: Case, actor) -> None:
    _require_live(case)
    if case.status != "closed":
        raise CaseRuleError(_("Only a closed case can be reopened."))
    case.status, case.outcome, case.closed_at = "active", None, None
    _event(case, "reopened", actor)
    audit.record("case_reopened", case, actor=actor)


# --- first contact --------------------------------------------------------------------------


def record_first_contact(
    case: Case, actor, at_local: dt.datetime | None = None, now: dt.datetime | None = None
) -> dt.datetime:
    """A social worker reached the person for the first time: she says so, once.

    An explicit step rather than a guess from notes or actions (a note may be written before
    anyone reached her). ``at_local`` is the wall-clock time she gives, in the case's
    department's zone, to the minute; None means now. It cannot be in the future, before the
    case was opened, or after it was closed. A transferred case gets its own first contact:
    the sender's is the sender's. Returns the stored moment (naive UTC).
    """
    _require_live(case)
    if case.first_contact_at is not None:
        raise CaseRuleError(_("The first contact is already recorded."), "first_contact_at")
    now = now or utcnow()
    moment = now if at_local is None else _first_contact_moment(at_local, case.department)
    if moment > now:
        raise CaseRuleError(_("The first contact cannot be in the future."), "first_contact_at")
    # The form gives minutes: the minute the case was opened in is not "before" it.
    if moment < case.opened_at.replace(second=0, microsecond=0):
        raise CaseRuleError(
            _("The first contact cannot be earlier than the opening of the case."),
            "first_contact_at",
        )
    if case.closed_at is not None and moment > case.closed_at:
        raise CaseRuleError(
            _("The case was closed before that: give the date and time of the first contact."),
            "first_contact_at",
        )
    case.first_contact_at = max(moment, case.opened_at)
    hours = int((case.first_contact_at - case.opened_at).total_seconds() // 3600)
    given = "now" if at_local is None else "given"
    _event(case, "first_contact", actor, hours=hours, time=given)
    audit.record(
        "case_first_contact_recorded", case, actor=actor, details={"hours": hours, "time": given}
    )
    return case.first_contact_at


def _first_contact_moment(at_local: dt.datetime, department: str | None) -> dt.datetime:
    local = at_local.replace(tzinfo=None, second=0, microsecond=0)
    try:
        return to_utc(local, department)
    except (OverflowError, ValueError):  # year 1 or 9999 moved across a time zone
        raise CaseRuleError(_("This date and time are not valid."), "first_contact_at") from None


def first_contact_delay(case: Case) -> dt.timedelta | None:
    """From opening to the first contact; None while she has not been reached."""
    if case.first_contact_at is None:
        return None
    return case.first_contact_at - case.opened_at


# --- notes ----------------------------------------------------------------------------------


def _seal_note(case: Case, note: CaseNote, text: str) -> None:
    note.organisation_id = case.organisation_id
    # The note shares THE CASE's key (erasing the case erases it); its own row_uid binds it.
    note.data_key = case.data_key
    note.body = text


def add_note(case: Case, text: str, actor, corrects: CaseNote | None = None) -> CaseNote:
    """A new note, or a correction appended to an earlier one."""
    _require_live(case)
    text = clean_text(text, NOTE_MAX_LENGTH, "body", required=True)
    if corrects is not None:
        if corrects.case_id != case.id:
            raise CaseNotFound("note")
        corrects_id = corrects.corrects_id or corrects.id  # corrections hang off the original
    else:
        corrects_id = None
    note = CaseNote(case_id=case.id, author_id=actor.id, created_at=utcnow())
    note.corrects_id = corrects_id
    _seal_note(case, note, text)
    db.session.add(note)
    db.session.flush()
    kind = "note_corrected" if corrects_id else "note_added"
    _event(case, kind, actor, note=note.id)
    audit.record(f"case_{kind}", note, actor=actor, details={"case": case.reference})
    return note


def note_edit_deadline(note: CaseNote) -> dt.datetime:
    return note.created_at + dt.timedelta(minutes=note_edit_minutes())


def can_edit_note(note: CaseNote, actor, now: dt.datetime | None = None) -> bool:
    return (
        note.author_id == getattr(actor, "id", None)
        and not note.transferred
        and note.body_sealed is not None
        and (now or utcnow()) <= note_edit_deadline(note)
    )


def edit_note(note: CaseNote, text: str, actor) -> None:
    """Only the author, only within the edit window; afterwards, add a correction."""
    case = db.session.get(Case, note.case_id)
    _require_live(case)
    if not can_edit_note(note, actor):
        raise CaseRuleError(
            _("This note can no longer be edited. Add a correction instead."), "body"
        )
    text = clean_text(text, NOTE_MAX_LENGTH, "body", required=True)
    note._edit_allowed = True
    try:
        _seal_note(case, note, text)
    finally:
        note._edit_allowed = False
    note.edited_at = utcnow()
    _event(case, "note_edited", actor, note=note.id)
    audit.record("case_note_edited", note, actor=actor, details={"case": case.reference})


@dataclass
class NoteView:
    """A note as a page shows it: primitive values only, decrypted once."""

    id: int
    author: str | None
    created_at: dt.datetime
    edited_at: dt.datetime | None
    text: str | None
    transferred: bool
    editable_until: dt.datetime | None
    corrections: list[NoteView] = field(default_factory=list)


def read_notes(case: Case, actor, names: dict[int, str] | None = None) -> list[NoteView]:
    """Every note of the case, corrections nested under the note they correct.

    One unwrap of the case key for all notes; each decryption is audited once per note and
    request, the events written in one bulk insert (see ``_audit_decryptions``).
    """
    notes = db.session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id == case.id, CaseNote.organisation_id == case.organisation_id)
        .order_by(CaseNote.created_at, CaseNote.id)
    ).all()
    texts = _open_notes(case, notes)
    if names is None:
        names = staff_names(case.organisation_id) if notes else {}
    now = utcnow()
    views = {note.id: _note_view(note, texts.get(note.id), names, actor, now) for note in notes}
    roots = []
    for note in notes:
        parent = views.get(note.corrects_id) if note.corrects_id else None
        (parent.corrections if parent else roots).append(views[note.id])
    return roots


def _open_notes(case: Case, notes: list[CaseNote]) -> dict[int, str]:
    """Clear texts by note id; erased, foreign-key or tampered notes are left out."""
    sealed = [n for n in notes if n.body_sealed and n.data_key_id == case.data_key_id]
    if case.is_erased or not sealed:
        return {}
    try:
        _key_row, dek = confidential.data_key_of(case)
    except DecryptionError:
        return {}
    texts = {}
    for note in sealed:
        aad = associated_data(CaseNote.__tablename__, "body", note.row_uid, note.organisation_id)
        try:
            texts[note.id] = open_with_data_key(dek, note.body_sealed, aad)
        except DecryptionError:
            log.error("Case note %s could not be decrypted", note.id)
    audit.record_decryptions([n for n in sealed if n.id in texts], "body")
    return texts


def _note_view(note: CaseNote, text: str | None, names: dict, actor, now) -> NoteView:
    editable = text is not None and can_edit_note(note, actor, now)
    return NoteView(
        id=note.id,
        author=None if note.transferred else names.get(note.author_id),
        created_at=note.created_at,
        edited_at=note.edited_at,
        text=text,
        transferred=note.transferred,
        editable_until=note_edit_deadline(note) if editable else None,
    )


def read_note(note: CaseNote) -> str | None:
    case = db.session.get(Case, note.case_id)
    if case.is_erased:
        return None
    set_committed_value(note, "data_key", case.data_key)
    return note.body


# --- referrals ------------------------------------------------------------------------------


def structures_for(need: str | None, department: str | None, limit: int = 300) -> list:
    """Active structures answering a need, the case's department first."""
    from backoffice.models.structure import Structure, StructureService

    statement = select(Structure).where(Structure.active.is_(True))
    if need in NEED_SERVICES:
        statement = statement.where(
            exists(
                select(StructureService.structure_id).where(
                    StructureService.structure_id == Structure.id,
                    StructureService.service.in_(NEED_SERVICES[need]),
                )
            )
        )
    here = (Structure.department == (department or "")).desc()
    return db.session.scalars(statement.order_by(here, Structure.name).limit(limit)).all()


def add_referral(
    case: Case, structure_id: int, need: str, actor, notes: str | None = None
) -> Referral:
    from backoffice.models.structure import Structure

    _require_not_closed(case)
    _check_code(need, NEEDS, "need")
    structure = db.session.get(Structure, structure_id) if structure_id else None
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
    _event(case, "referral_proposed", actor, referral=referral.id, need=need)
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
    """proposed → accepted → appointment (date) → done, or declined; notes are appended."""
    case = db.session.get(Case, referral.case_id)
    _require_not_closed(case)
    _check_code(status, REFERRAL_STATUSES, "status")
    if status not in REFERRAL_TRANSITIONS[referral.status]:
        raise CaseRuleError(_("This change of status is not possible."), "status")
    if status == "appointment" and appointment_local is None:
        raise CaseRuleError(_("Give the date and time of the appointment."), "appointment_at")
    note = clean_text(note, SHORT_TEXT_MAX_LENGTH, "note")
    before = referral.status
    referral.status, referral.status_changed_at = status, utcnow()
    if status == "appointment":
        referral.appointment_at = to_utc(appointment_local, case.department)
    if note:
        set_committed_value(referral, "data_key", case.data_key)
        stamp = to_local(utcnow(), case.department).strftime("%d/%m/%Y %H:%M")
        previous = referral.notes
        referral.notes = f"{previous}\n[{stamp}] {note}" if previous else f"[{stamp}] {note}"
    _event(case, "referral_" + status, actor, referral=referral.id)
    audit.record(
        "referral_status_changed",
        referral,
        actor=actor,
        details={"case": case.reference, "from": before, "to": status},
    )


def read_referrals(case: Case) -> list[dict]:
    referrals = db.session.scalars(
        select(Referral)
        .where(Referral.case_id == case.id, Referral.organisation_id == case.organisation_id)
        .options(selectinload(Referral.structure))
        .order_by(Referral.created_at, Referral.id)
    ).all()
    return [_referral_view(case, r) for r in referrals]


def _referral_view(case: Case, referral: Referral) -> dict:
    notes = None
    if referral.notes_sealed and not case.is_erased:
        set_committed_value(referral, "data_key", case.data_key)
        try:
            notes = referral.notes
        except DecryptionError:
            notes = None
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
            "phone": structure.phone,
            "address": structure.address,
        },
        "notes": notes,
        "next": sorted(REFERRAL_TRANSITIONS[referral.status]),
    }


# --- consents and transfers -----------------------------------------------------------------


def record_consent(case: Case, partner_id: int, channel: str, actor) -> CaseConsent:
    """She agreed to her case being shared with this named association."""
    _require_live(case)
    _check_code(channel, CONSENT_CHANNELS, "channel")
    partner = db.session.get(Organisation, partner_id) if partner_id else None
    if partner is None or not partner.active or partner.id == case.organisation_id:
        raise CaseRuleError(_("Choose another active partner association."), "partner_id")
    if active_consent(case, partner.id) is not None:
        raise CaseRuleError(_("This consent is already recorded."), "partner_id")
    consent = CaseConsent(
        case_id=case.id,
        organisation_id=case.organisation_id,
        partner_organisation_id=partner.id,
        channel=channel,
        given_at=utcnow(),
        recorded_by_id=actor.id,
    )
    db.session.add(consent)
    db.session.flush()
    _event(case, "consent_recorded", actor, partner=partner.id, channel=channel)
    audit.record("case_consent_recorded", case, actor=actor, details={"partner": partner.id})
    return consent


def withdraw_consent(consent: CaseConsent, actor) -> None:
    if consent.withdrawn_at is not None:
        raise CaseRuleError(_("This consent was already withdrawn."))
    consent.withdrawn_at = utcnow()
    case = db.session.get(Case, consent.case_id)
    _event(case, "consent_withdrawn", actor, partner=consent.partner_organisation_id)
    audit.record(
        "case_consent_withdrawn",
        case,
        actor=actor,
        details={"partner": consent.partner_organisation_id},
    )


def active_consent(case: Case, partner_id: int) -> CaseConsent | None:
    return db.session.scalar(
        select(CaseConsent).where(
            CaseConsent.case_id == case.id,
            CaseConsent.organisation_id == case.organisation_id,
            CaseConsent.partner_organisation_id == partner_id,
            CaseConsent.withdrawn_at.is_(None),
        )
    )


def consents_of(case: Case) -> list[CaseConsent]:
    return db.session.scalars(
        select(CaseConsent)
        .where(CaseConsent.case_id == case.id, CaseConsent.organisation_id == case.organisation_id)
        .options(selectinload(CaseConsent.partner_organisation))
        .order_by(CaseConsent.given_at)
    ).all()


def transfer_case(
    case: Case,
    partner_id: int,
    items: Iterable[str],
    note_ids: Iterable[int],
    actor,
    close_sender: bool = False,
) -> CaseTransfer:
    """Copy the chosen items into a new case of the partner; the sender keeps its own."""
    _require_live(case)
    consent = active_consent(case, partner_id) if partner_id else None
    partner = db.session.get(Organisation, partner_id) if partner_id else None
    if consent is None or partner is None or not partner.active:
        raise CaseRuleError(
            _("No recorded consent to sharing with this association: record it first."),
            "partner_id",
        )
    items = _check_codes(items, TRANSFER_ITEMS, "items")
    notes = _notes_to_transfer(case, note_ids)
    if not items and not notes:
        raise CaseRuleError(_("Choose at least one item to transfer."), "items")
    new = _new_case(partner_id, "transfer", actor)
    new.intake_consent_share = case.intake_consent_share
    _copy_items(case, new, items)
    for note in notes:
        copy = CaseNote(case_id=new.id, created_at=note.created_at, transferred=True)
        _seal_note(new, copy, read_note(note) or "")
        db.session.add(copy)
    transfer = CaseTransfer(
        from_case_id=case.id,
        to_case_id=new.id,
        from_organisation_id=case.organisation_id,
        to_organisation_id=partner_id,
        consent_id=consent.id,
        items=items,
        notes_count=len(notes),
        created_by_id=actor.id,
    )
    db.session.add(transfer)
    _record_transfer(case, new, items, len(notes), actor)
    if close_sender and case.status != "closed":
        close_case(case, "transferred", actor)
    return transfer


def _notes_to_transfer(case: Case, note_ids: Iterable[int]) -> list[CaseNote]:
    """The chosen notes with their corrections, in order; ids of other cases are refused."""
    wanted = {int(i) for i in note_ids}
    if not wanted:
        return []
    notes = db.session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id == case.id, CaseNote.organisation_id == case.organisation_id)
        .order_by(CaseNote.created_at, CaseNote.id)
    ).all()
    if not wanted <= {n.id for n in notes}:
        raise CaseNotFound("note")
    return [n for n in notes if n.id in wanted or n.corrects_id in wanted]


def _copy_items(case: Case, new: Case, items: list[str]) -> None:
    if "contact" in items:
        _seal_contact(new, read_contact(case) or Contact())
    if "incident" in items:
        facts = CaseFacts(
            case.incident_date, case.incident_time, case.department, case.violence_types
        )
        _apply_facts(new, facts)
    if "needs" in items:
        new.needs = [CaseNeed(need=n.need, status=n.status) for n in case.needs]
    if "flags" in items:
        new.flags = [
            CaseFlag(organisation_id=new.organisation_id, kind=f.kind, deadline=f.deadline)
            for f in case.flags
            if f.resolved_at is None
        ]


def _record_transfer(case: Case, new: Case, items: list[str], notes: int, actor) -> None:
    details = {"items": items, "notes": notes}
    _event(case, "transferred", actor, to=new.organisation_id, **details)
    _event(new, "received", None, source_organisation=case.organisation_id, **details)
    audit.record(
        "case_transferred", case, actor=actor, details={"to": new.organisation_id, **details}
    )
    audit.record(
        "case_received",
        new,
        actor=actor,
        organisation_id=new.organisation_id,
        details={"from": case.organisation_id, **details},
    )


def transfers_of(case: Case) -> dict[str, list[CaseTransfer]]:
    """Transfers seen from this case: the ones it sent and the one it came from."""
    sent = db.session.scalars(
        select(CaseTransfer)
        .where(
            CaseTransfer.from_case_id == case.id,
            CaseTransfer.from_organisation_id == case.organisation_id,
        )
        .order_by(CaseTransfer.created_at)
    ).all()
    received = db.session.scalars(
        select(CaseTransfer).where(
            CaseTransfer.to_case_id == case.id,
            CaseTransfer.to_organisation_id == case.organisation_id,
        )
    ).all()
    return {"sent": list(sent), "received": list(received)}


# --- follow-up actions ------------------------------------------------------------------------


def add_action(
    case: Case,
    kind: str,
    due_on: dt.date | None,
    assignee_id: int | None,
    actor,
    details: str | None = None,
) -> FollowUpAction:
    _require_not_closed(case)
    _check_code(kind, ACTION_KINDS, "kind")
    if due_on is None:
        raise CaseRuleError(_("Give a due date."), "due_on")
    assignee_id = _check_assignee(case.organisation_id, assignee_id or actor.id)
    action = FollowUpAction(
        case_id=case.id,
        organisation_id=case.organisation_id,
        kind=kind,
        due_on=due_on,
        assignee_id=assignee_id,
        created_by_id=actor.id,
    )
    action.data_key = case.data_key
    action.details = clean_text(details, SHORT_TEXT_MAX_LENGTH, "details")
    db.session.add(action)
    db.session.flush()
    _event(case, "action_added", actor, action=action.id, kind=kind)
    audit.record("case_action_added", action, actor=actor, details={"case": case.reference})
    return action


def complete_action(action: FollowUpAction, actor) -> None:
    if action.done_at is not None:
        raise CaseRuleError(_("This action is already done."))
    action.done_at, action.done_by_id = utcnow(), actor.id
    _event(action.case, "action_done", actor, action=action.id)
    audit.record("case_action_done", action, actor=actor, details={"case": action.case.reference})


def read_actions(case: Case) -> list[dict]:
    actions = db.session.scalars(
        select(FollowUpAction)
        .where(
            FollowUpAction.case_id == case.id,
            FollowUpAction.organisation_id == case.organisation_id,
        )
        .order_by(FollowUpAction.done_at.is_not(None), FollowUpAction.due_on)
    ).all()
    today = local_today(case.department)
    views = []
    for action in actions:
        details = None
        if action.details_sealed and not case.is_erased:
            set_committed_value(action, "data_key", case.data_key)
            try:
                details = action.details
            except DecryptionError:
                details = None
        views.append(
            {
                "id": action.id,
                "kind": action.kind,
                "due_on": action.due_on,
                "assignee_id": action.assignee_id,
                "done_at": action.done_at,
                "overdue": action.done_at is None and action.due_on < today,
                "details": details,
            }
        )
    return views


@dataclass
class DueAction:
    """An action in a digest or the "my actions" page: references and dates only."""

    action_id: int
    case_id: int
    reference: str
    kind: str
    due_on: dt.date


def open_actions_of(
    user_ids: Iterable[int] | None, until: dt.date, organisation_id: int | None = None
) -> dict[int, list[DueAction]]:
    """Open actions due by ``until`` on cases still followed, by assignee."""
    statement = (
        select(
            FollowUpAction.id,
            FollowUpAction.case_id,
            FollowUpAction.kind,
            FollowUpAction.due_on,
            FollowUpAction.assignee_id,
            Case.reference,
        )
        .join(Case, Case.id == FollowUpAction.case_id)
        .join(StaffUser, StaffUser.id == FollowUpAction.assignee_id)
        .where(
            FollowUpAction.done_at.is_(None),
            FollowUpAction.due_on <= until,
            Case.status != "closed",
            Case.erased_at.is_(None),
            # The assignee must still belong to the case's association.
            StaffUser.organisation_id == FollowUpAction.organisation_id,
        )
        .order_by(FollowUpAction.due_on, Case.reference)
    )
    if user_ids is not None:
        statement = statement.where(FollowUpAction.assignee_id.in_(list(user_ids)))
    if organisation_id is not None:
        statement = statement.where(FollowUpAction.organisation_id == organisation_id)
    by_user: dict[int, list[DueAction]] = {}
    for row in db.session.execute(statement):
        by_user.setdefault(row.assignee_id, []).append(
            DueAction(row.id, row.case_id, row.reference, row.kind, row.due_on)
        )
    return by_user


def digest_days_ahead() -> int:
    return int(current_app.config.get("CASE_DIGEST_DAYS_AHEAD", 7))


def split_due(actions: list[DueAction], today: dt.date) -> tuple[list, list]:
    overdue = [a for a in actions if a.due_on < today]
    return overdue, [a for a in actions if a.due_on >= today]


def send_action_digests() -> int:
    """Daily job: each social worker gets her overdue and upcoming actions by email.

    References, due dates and a link only: no name, no action details, not even the kind of
    action (a "PEP appointment" next to a reference would say too much in a mailbox).
    Returns the number of emails sent.
    """
    from backoffice.security import SOCIAL_WORKER
    from backoffice.services import mailer

    today = local_today()
    due = open_actions_of(None, today + dt.timedelta(days=digest_days_ahead()))
    if not due:
        return 0
    users = db.session.scalars(
        select(StaffUser)
        .where(StaffUser.id.in_(list(due)), StaffUser.active.is_(True))
        .options(selectinload(StaffUser.roles))
    ).all()
    recipients = [u for u in users if u.email and u.has_role(SOCIAL_WORKER)]
    sent = failed = 0
    with mailer.smtp_connection():
        for user in recipients:
            subject, body = digest_message(due[user.id], today)
            try:
                mailer.send_email(user.email, subject, body)
                sent += 1
            except mailer.MailError:
                failed += 1
                log.warning("Action digest not delivered to user %s", user.id)
    audit.record(
        "case_action_digest_sent",
        object_type="Job",
        object_id="case_action_digest",
        outcome="success" if not failed else "partial",
        details={"sent": sent, "failed": failed},
    )
    db.session.commit()
    return sent


def digest_message(actions: list[DueAction], today: dt.date) -> tuple[str, str]:
    """Subject and plain-text body of one digest, in the default language."""
    overdue, upcoming = split_due(actions, today)
    link = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/cases/actions/"
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")):
        subject = _(
            "Follow-up actions: %(overdue)d overdue, %(upcoming)d coming up",
            overdue=len(overdue),
            upcoming=len(upcoming),
        )
        lines = [_("Hello,"), ""]
        for title, group in ((_("Overdue"), overdue), (_("Coming up"), upcoming)):
            if group:
                lines.append(f"{title}:")
                lines += [
                    "  "
                    + _(
                        "%(ref)s, due %(date)s", ref=a.reference, date=a.due_on.strftime("%d/%m/%Y")
                    )
                    for a in group
                ]
                lines.append("")
        lines += [_("Open your actions: %(link)s", link=link), "", _("Jasmine back office")]
    return subject, "\n".join(lines) + "\n"


# --- erasure --------------------------------------------------------------------------------


def _folded(text: str | None) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().replace("’", "'").split())


def erase_case(case: Case, reason: str, confirmation: str, actor) -> None:
    """ "Erase this person": irreversible; the reason chosen must be typed to confirm."""
    if case.is_erased:
        raise CaseRuleError(_("This case was already erased."))
    _check_code(reason, ERASURE_REASONS, "reason")
    if _folded(confirmation) != _folded(str(ERASURE_REASONS[reason])):
        raise CaseRuleError(
            _("Type the reason exactly as shown to confirm the erasure."), "confirmation"
        )
    notes = _erase_children(case)
    confidential.shred(case, CASE_SEALED_COLUMNS)
    _erase_source_report(case)
    now = utcnow()
    case.erased_at, case.erased_by_id, case.erasure_reason = now, actor.id, reason
    if case.status != "closed":
        case.status, case.outcome, case.closed_at = "closed", "erased", now
    _event(case, "erased", actor, reason=reason)
    audit.record("case_erased", case, actor=actor, details={"reason": reason, "notes": notes})


def _erase_children(case: Case) -> int:
    """Clear every ciphertext sealed with the case's key (the key goes next)."""
    owned = {"case_id": case.id, "organisation_id": case.organisation_id}
    notes = db.session.scalar(select(func.count(CaseNote.id)).filter_by(**owned))
    for model, column in (
        (CaseNote, "body_sealed"),
        (Referral, "notes_sealed"),
        (FollowUpAction, "details_sealed"),
    ):
        db.session.execute(
            update(model).filter_by(**owned).values({column: None}),
            execution_options={"synchronize_session": False},
        )
    db.session.expire_all()
    return notes


def _erase_source_report(case: Case) -> None:
    """The victim's contact in the report the case came from goes too (nobody else uses it)."""
    if case.report_id is None:
        return
    from backoffice.models.report import VICTIM_SEALED_COLUMNS, Report

    report = db.session.get(Report, case.report_id)
    if report is not None:
        confidential.shred(report, VICTIM_SEALED_COLUMNS)
        audit.record("report_victim_erased", report, details={"case": case.reference})


# --- search and lists -------------------------------------------------------------------------


@dataclass
class CaseFilters:
    reference: str | None = None
    status: str | None = None  # a status, "current" (not closed) or None (all)
    need: str | None = None
    assignee_id: int | None = None  # 0 = unassigned
    opened_from: dt.date | None = None
    opened_to: dt.date | None = None
    urgent: bool = False


def case_select(organisation_id: int, filters: CaseFilters) -> Select:
    """The cases of one organisation matching ``filters``: clear columns only."""
    statement = select(Case).where(Case.organisation_id == organisation_id)
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
    if filters.opened_from:
        statement = statement.where(Case.opened_at >= to_utc(_midnight(filters.opened_from), None))
    if filters.opened_to:
        end = to_utc(_midnight(filters.opened_to + dt.timedelta(days=1)), None)
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


@dataclass
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


def list_cases(
    organisation_id: int, filters: CaseFilters, page: int = 1, page_size: int = PAGE_SIZE
) -> CasePage:
    """One page of cases, newest first, in a fixed number of queries."""
    statement = case_select(organisation_id, filters)
    total = db.session.scalar(statement.with_only_columns(func.count(Case.id)))
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    cases = db.session.scalars(
        statement.options(selectinload(Case.needs), selectinload(Case.flags))
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    names = staff_names(organisation_id) if cases else {}
    next_due = _next_due([c.id for c in cases])
    return CasePage([_row(c, names, next_due) for c in cases], total, page, pages)


def _next_due(case_ids: list[int]) -> dict[int, dt.date]:
    if not case_ids:
        return {}
    rows = db.session.execute(
        select(FollowUpAction.case_id, func.min(FollowUpAction.due_on))
        .where(FollowUpAction.case_id.in_(case_ids), FollowUpAction.done_at.is_(None))
        .group_by(FollowUpAction.case_id)
    )
    return dict(rows.all())


def _row(case: Case, names: dict[int, str], next_due: dict[int, dt.date]) -> CaseRow:
    now = utcnow()
    open_flags = [f for f in case.flags if f.resolved_at is None and (f.deadline or now) >= now]
    urgent = min(open_flags, key=lambda f: f.deadline or dt.datetime.max, default=None)
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


def reveal_names(rows: list[CaseRow], organisation_id: int) -> None:
    """On request, the names on one page of the list (each decryption audited)."""
    cases = {
        c.id: c
        for c in db.session.scalars(
            select(Case).where(
                Case.id.in_([r.id for r in rows]), Case.organisation_id == organisation_id
            )
        )
    }
    for row in rows:
        case = cases.get(row.id)
        if case is not None and not case.is_erased:
            try:
                row.name = case.victim_name
            except DecryptionError:
                row.name = None


EXPORT_COLUMNS = (
    "reference",
    "status",
    "source",
    "opened",
    "closed",
    "outcome",
    "assignee",
    "needs",
    "department",
    "violence_types",
    "erased",
    "first_contact",
    "hours_to_first_contact",
)


def export_csv(organisation_id: int, filters: CaseFilters, actor) -> Iterator[str]:
    """The filtered cases as CSV: non-personal columns only (no contact, no notes)."""
    names = staff_names(organisation_id)
    statement = (
        case_select(organisation_id, filters)
        .options(selectinload(Case.needs))
        .order_by(Case.opened_at.desc(), Case.id.desc())
    )
    cases = db.session.scalars(statement).all()
    audit.record(
        "cases_exported",
        object_type="Case",
        actor=actor,
        organisation_id=organisation_id,
        details={"rows": len(cases)},
    )
    db.session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for case in cases:
        writer.writerow([_csv_safe(v) for v in _export_row(case, names)])
    return iter([buffer.getvalue()])


def _export_row(case: Case, names: dict[int, str]) -> list:
    return [
        case.reference,
        case.status,
        case.source,
        case.opened_at.date().isoformat(),
        case.closed_at.date().isoformat() if case.closed_at else "",
        case.outcome or "",
        names.get(case.assignee_id, ""),
        " ".join(n.need for n in case.needs),
        case.department or "",
        " ".join(case.violence_types or []),
        "yes" if case.is_erased else "",
        case.first_contact_at.date().isoformat() if case.first_contact_at else "",
        _whole_hours(first_contact_delay(case)),
    ]


def _whole_hours(delay: dt.timedelta | None) -> int | str:
    return "" if delay is None else int(delay.total_seconds() // 3600)


def _csv_safe(value: object) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: defuse them."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def history_of(case: Case, limit: int = 50) -> tuple[list[CaseEvent], int]:
    """The latest ``limit`` events of the case's history, and how many there are in all."""
    owned = (CaseEvent.case_id == case.id, CaseEvent.organisation_id == case.organisation_id)
    events = db.session.scalars(
        select(CaseEvent)
        .where(*owned)
        .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc())
        .limit(limit)
    ).all()
    total = db.session.scalar(select(func.count(CaseEvent.id)).where(*owned))
    return list(events), total


def case_labels() -> dict[str, dict]:
    """Vocabularies for templates (codes -> translated labels)."""
    return {
        "statuses": CASE_STATUSES,
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
