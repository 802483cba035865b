"""Virtual outreach rounds: the batch check, contacts, outcomes, templates, figures, retention.

The rules live here; views only parse forms and call these functions. Everything that
reads organisation-owned rows takes the organisation explicitly or goes through
``security.scoped`` (the signed-in user's organisation), so another organisation's contacts
are never compared, shown or changed.

How numbers are kept is described in ``backoffice.models.outreach``: a keyed blind index for
the duplicate check, and a display value sealed with the session's data key, destroyed when
the session closes. Clear values exist only in the request that carries them and in the
page that answers it: never in a log line, a URL, a flash message or an audit detail.

The batch check is one indexed query for the whole paste:
``WHERE organisation_id = :org AND kind IN (...) AND blind_index IN (...)`` on the unique
index (organisation_id, blind_index, kind), plus one small query for the teams of the
sessions that matched.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, distinct, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from backoffice.extensions import db
from backoffice.models.base import new_row_uid, utcnow
from backoffice.models.keys import DataKey
from backoffice.models.organisation import Organisation
from backoffice.models.outreach import (
    CONTACT_HANDLE,
    CONTACT_PHONE,
    MESSAGE_PURPOSES,
    OUTCOME_KINDS,
    OUTCOME_MESSAGE,
    OUTCOME_REFERRAL,
    SESSION_CLOSED,
    SESSION_OPEN,
    ContactOutcome,
    MessageTemplate,
    OutreachContact,
    OutreachLead,
    OutreachSession,
    Platform,
    session_members,
    short_name,
)
from backoffice.models.user import StaffUser
from backoffice.security import can, organisation_of, scoped
from backoffice.services import audit, timezones
from backoffice.services.confidential import ErasedError, data_key_of, keyring, shred
from backoffice.services.crypto import (
    DecryptionError,
    associated_data,
    open_with_data_key,
    seal_with_data_key,
)
from backoffice.services.identifiers import InvalidIdentifier, display, guess_kind, normalise
from backoffice.services.sms_encoding import sms_parts
from backoffice.services.timezones import months_before
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.services.worker_texts import outreach_text
from backoffice.transactions import checkpoint

log = logging.getLogger(__name__)

# A round is planned at most a year ahead; a later date is a typing mistake.
MAX_DAYS_AHEAD = 366
BLIND_INDEX_KINDS = {CONTACT_PHONE: "outreach-phone", CONTACT_HANDLE: "outreach-handle"}
MAX_LINE_LENGTH = 300
SHOWN_LINE_LENGTH = 80
TEMPLATE_MAX_LENGTH = 1600
PLACEHOLDERS = ("programme", "register_url", "check_url")
_PLACEHOLDER = re.compile(r"\{([^{}\s]{0,40})\}")
# Spreadsheet and chat pastes wrap values in quotes or end them with a separator.
_EDGE_NOISE = " \t,;\"'«»“”"
_DIGITS_IN_NOTES = re.compile(r"(?:\d[\s.\-/()]*){8,}")

STATUS_NEW = "new"
STATUS_KNOWN = "known"
STATUS_DUPLICATE = "duplicate"
STATUS_INVALID = "invalid"

REASONS: dict[str, object] = {
    "line_too_long": _l("This line is too long to be a number or a handle."),
    "phone_too_short": _l("This phone number is too short."),
    "phone_too_long": _l("This phone number is too long."),
    "phone_letters": _l("A phone number cannot contain letters: keep only the number on the line."),
    "phone_characters": _l("This phone number contains characters that are not allowed."),
    "phone_invalid": _l("This is not a valid phone number."),
    "handle_invalid": _l("This handle or profile link is not valid."),
    "unrecognised": _l(
        "Not recognised: paste a phone number, a handle starting with @ or a profile link."
    ),
}


class OutreachError(ValueError):
    """A request the rules refuse; ``str()`` is a sentence for the user, in her language."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class NotInScope(LookupError):
    """An id that is not one of this organisation's (or this session's) rows: answer 404."""


# --- reading a pasted batch ---------------------------------------------------------------


@dataclass
class ParsedLine:
    number: int  # 1-based line number in the paste
    shown: str  # the line as pasted, shortened: echoed back in the answer only
    kind: str | None = None  # "phone" or "handle"
    value: str | None = None  # normalised (handles carry their sub-kind: "url:https://…")
    reason: str | None = None  # a REASONS code when the line is not usable

    @property
    def display(self) -> str | None:
        return display_value(self.kind, self.value) if self.value else None


def _clean(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().strip(_EDGE_NOISE).strip()


def _phone_reason(error: InvalidIdentifier) -> str:
    return {
        "too_short": "phone_too_short",
        "too_long": "phone_too_long",
        "letters": "phone_letters",
        "characters": "phone_characters",
    }.get(error.reason, "phone_invalid")


class LineRejected(ValueError):
    """A pasted line that is neither a phone number nor a handle; ``reason`` is a REASONS code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_line(text: str) -> tuple[str, str]:
    """(kind, normalised value) of one pasted line; raises LineRejected with a reason."""
    if len(text) > MAX_LINE_LENGTH:
        raise LineRejected("line_too_long")
    guessed = guess_kind(text)
    if guessed in ("url", "email") or text.startswith("@"):
        subkind = "pseudonym" if text.startswith("@") else guessed
        try:
            return CONTACT_HANDLE, f"{subkind}:{normalise(subkind, text)}"
        except InvalidIdentifier:
            raise LineRejected("handle_invalid") from None
    digits = sum(ch.isdecimal() for ch in text)
    letters = any(ch.isalpha() for ch in text.removeprefix("tel:").removeprefix("TEL:"))
    if guessed == "phone" or (digits and not letters) or digits >= 6:
        try:
            return CONTACT_PHONE, normalise("phone", text)
        except InvalidIdentifier as error:
            raise LineRejected(_phone_reason(error)) from None
    raise LineRejected("unrecognised")


def parse_batch(text: str, max_lines: int | None = None) -> list[ParsedLine]:
    """Every non-blank line of a paste, read as a phone or a handle, or with a reason."""
    max_lines = max_lines or current_app.config["OUTREACH_BATCH_MAX_LINES"]
    parsed: list[ParsedLine] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        cleaned = _clean(raw)
        if not cleaned:
            continue
        if len(parsed) >= max_lines:
            raise OutreachError(_l("Paste at most %(count)d lines at a time.", count=max_lines))
        shown = cleaned if len(cleaned) <= SHOWN_LINE_LENGTH else cleaned[:SHOWN_LINE_LENGTH] + "…"
        line = ParsedLine(number=number, shown=shown)
        try:
            line.kind, line.value = read_line(cleaned)
        except LineRejected as rejected:
            line.reason = rejected.reason
        parsed.append(line)
    return parsed


def display_value(kind: str | None, value: str | None) -> str | None:
    """What the team reads and types: +33 6 12 34 56 78, @lila75, a profile link."""
    if not value:
        return None
    if kind == CONTACT_PHONE:
        return display("phone", value)
    subkind, _, rest = value.partition(":")
    return f"@{rest}" if subkind == "pseudonym" else rest


def blind_index(kind: str, value: str) -> str:
    return keyring().blind_index(BLIND_INDEX_KINDS[kind], value)


# --- the batch check ------------------------------------------------------------------------


@dataclass
class PreviousContact:
    contact_id: int
    session_id: int
    session_reference: str
    session_date: dt.date
    session_open: bool
    team: str


@dataclass
class CheckedLine:
    number: int
    shown: str
    status: str
    kind: str | None = None
    display: str | None = None
    reason: str | None = None
    duplicate_of: int | None = None
    previous: PreviousContact | None = None
    # New to the team, but contacted by some association of the programme in the last
    # OUTREACH_RECENT_CONTACT_DAYS days: shown "contacted recently", never by whom.
    recently_contacted: bool = False
    value: str | None = field(default=None, repr=False)
    blind_index: str | None = field(default=None, repr=False)

    @property
    def reason_text(self) -> str:
        return str(REASONS.get(self.reason or "", "")) if self.reason else ""


@dataclass
class BatchCheck:
    lines: list[CheckedLine]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(line.status for line in self.lines)
        statuses = (STATUS_NEW, STATUS_KNOWN, STATUS_DUPLICATE, STATUS_INVALID)
        return {status: found.get(status, 0) for status in statuses}

    @property
    def recent_count(self) -> int:
        return sum(1 for line in self.lines if line.recently_contacted)

    @property
    def new_lines(self) -> list[CheckedLine]:
        return [line for line in self.lines if line.status == STATUS_NEW]


def check_batch(text: str, actor=None) -> BatchCheck:
    """For each pasted line: new, already contacted (when, which session, which team),
    repeated within the paste, or unusable (with the reason).

    Only the given organisation's contacts are compared (default: the signed-in user's).
    """
    parsed = parse_batch(text)
    lines: list[CheckedLine] = []
    first_line_of: dict[tuple[str, str], int] = {}
    for item in parsed:
        line = CheckedLine(number=item.number, shown=item.shown, status=STATUS_INVALID)
        line.reason = item.reason
        if item.value is not None:
            line.kind, line.value, line.display = item.kind, item.value, item.display
            line.blind_index = blind_index(item.kind, item.value)
            key = (item.kind, line.blind_index)
            if key in first_line_of:
                line.status, line.duplicate_of = STATUS_DUPLICATE, first_line_of[key]
            else:
                first_line_of[key] = item.number
                line.status = STATUS_NEW
        lines.append(line)
    previous = _previous_contacts(set(first_line_of), actor)
    for line in lines:
        if line.status == STATUS_NEW and (line.kind, line.blind_index) in previous:
            line.status = STATUS_KNOWN
            line.previous = previous[(line.kind, line.blind_index)]
    new = {(line.kind, line.blind_index) for line in lines if line.status == STATUS_NEW}
    recent = recently_contacted(new)
    for line in lines:
        line.recently_contacted = (line.kind, line.blind_index) in recent
    return BatchCheck(lines=lines)


def recent_contact_days() -> int:
    return int(current_app.config.get("OUTREACH_RECENT_CONTACT_DAYS", 7))


def recently_contacted(
    keys: set[tuple[str | None, str | None]], now: dt.datetime | None = None
) -> set[tuple[str, str]]:
    """Which of ``keys`` (kind, blind index) any association contacted in the last N days.

    Programme-wide on purpose, so NOT scoped to the caller's organisation (issue 18.8: two
    associations messaged the same worker the same week). It answers yes or no only: no
    organisation, date, session or team leaves this function. A contact counts from its
    first message (``contacted_at``) and from every outcome logged since (``occurred_at``).
    """
    keys = {(k, i) for k, i in keys if k and i}
    if not keys:
        return set()
    since = (now or utcnow()) - dt.timedelta(days=recent_contact_days())
    recent_outcome = (
        select(ContactOutcome.contact_id)
        .where(ContactOutcome.occurred_at >= since, ContactOutcome.contact_id.is_not(None))
        .scalar_subquery()
    )
    statement = (
        select(OutreachContact.kind, OutreachContact.blind_index)
        .where(
            OutreachContact.kind.in_({kind for kind, _ in keys}),
            OutreachContact.blind_index.in_({index for _, index in keys}),
            (OutreachContact.contacted_at >= since) | OutreachContact.id.in_(recent_outcome),
        )
        .distinct()
    )
    return {(kind, index) for kind, index in db.session.execute(statement) if (kind, index) in keys}


def _previous_contacts(keys: set[tuple[str, str]], actor) -> dict[tuple[str, str], PreviousContact]:
    if not keys:
        return {}
    statement = (
        select(
            OutreachContact.id,
            OutreachContact.kind,
            OutreachContact.blind_index,
            OutreachSession.id,
            OutreachSession.session_date,
            OutreachSession.status,
        )
        .join(OutreachSession, OutreachSession.id == OutreachContact.session_id)
        .where(
            OutreachContact.kind.in_({kind for kind, _ in keys}),
            OutreachContact.blind_index.in_({index for _, index in keys}),
        )
    )
    rows = db.session.execute(scoped(statement, OutreachContact, actor)).all()
    teams = _team_labels({row[3] for row in rows})
    found = {}
    for contact_id, kind, index, session_id, session_date, status in rows:
        if (kind, index) not in keys:
            continue
        found[(kind, index)] = PreviousContact(
            contact_id=contact_id,
            session_id=session_id,
            session_reference=f"M-{session_date.year}-{session_id:05d}",
            session_date=session_date,
            session_open=status == SESSION_OPEN,
            team=teams.get(session_id, "—"),
        )
    return found


def _team_labels(session_ids: set[int]) -> dict[int, str]:
    if not session_ids:
        return {}
    rows = db.session.execute(
        select(session_members.c.session_id, StaffUser)
        .join(StaffUser, StaffUser.id == session_members.c.user_id)
        .where(session_members.c.session_id.in_(session_ids))
        .order_by(StaffUser.first_name)
    ).all()
    names: dict[int, list[str]] = {}
    for session_id, user in rows:
        names.setdefault(session_id, []).append(short_name(user))
    return {session_id: ", ".join(team) for session_id, team in names.items()}


# --- sessions and contacts ------------------------------------------------------------------


def too_far_ahead(day: dt.date) -> bool:
    return day > dt.date.today() + dt.timedelta(days=MAX_DAYS_AHEAD)


def prepare_new_session(session: OutreachSession, user: StaffUser | None) -> None:
    """A new round is open, and its creator is in its team unless a team was chosen."""
    session.status = SESSION_OPEN
    session.created_by_id = getattr(user, "id", None)
    if not session.team and user is not None:
        session.team = [user]


def close_round(session: OutreachSession) -> int:
    """Close an open round (``close_session``); refused when it is already closed."""
    if not session.is_open:
        raise OutreachError(_l("This session is already closed."))
    return close_session(session)


def active_platforms() -> list[Platform]:
    return list(db.session.scalars(select(Platform).where(Platform.active).order_by(Platform.name)))


def referral_organisations() -> list[Organisation]:
    """Associations an outcome may refer someone to: every active partner."""
    statement = select(Organisation).where(Organisation.active).order_by(Organisation.name)
    return list(db.session.scalars(statement))


def require_open(session: OutreachSession) -> None:
    if not session.is_open:
        raise OutreachError(_l("This session is closed: its contacts can no longer change."))


def _display_aad(contact: OutreachContact) -> bytes:
    return associated_data(
        OutreachContact.__tablename__, "display", contact.row_uid, contact.organisation_id
    )


def _seal_display(session: OutreachSession, contact: OutreachContact, value: str) -> None:
    key_row, dek = data_key_of(session)
    if key_row.id is None:
        db.session.add(key_row)
        db.session.flush([key_row])  # the token names its key
    contact.display_sealed = seal_with_data_key(dek, key_row.id, value, _display_aad(contact))


def contact_displays(
    session: OutreachSession, contacts: Iterable[OutreachContact]
) -> dict[int, str | None]:
    """Clear display values of a session's contacts (None once erased), audited once."""
    contacts = list(contacts)
    shown: dict[int, str | None] = {contact.id: None for contact in contacts}
    sealed = [c for c in contacts if c.display_sealed is not None]
    if not sealed or session.data_key is None:
        return shown
    try:
        _key_row, dek = data_key_of(session)
    except ErasedError:
        return shown
    for contact in sealed:
        try:
            value = open_with_data_key(dek, contact.display_sealed, _display_aad(contact))
        except DecryptionError:
            log.warning("Outreach contact %s: display value does not open", contact.id)
            continue
        shown[contact.id] = display_value(contact.kind, value)
    count = sum(value is not None for value in shown.values())
    if count:
        audit.record("decrypt", session, details={"field": "contact_display", "count": count})
    return shown


@dataclass
class AddResult:
    added: int = 0
    already_known: int = 0
    not_selected: int = 0
    contacts: list[OutreachContact] = field(default_factory=list)


def add_contacts(
    session: OutreachSession,
    text: str,
    *,
    selected: set[int] | None = None,
    platform_id: int | None = None,
    language: str | None = None,
    log_first_message: bool = False,
    user: StaffUser | None = None,
) -> AddResult:
    """Add the paste's new lines (or the ``selected`` line numbers among them) to a session.

    The paste is checked again here, so a number a teammate added since the check is not
    added twice; a simultaneous insert is caught by the unique index and refused cleanly.
    """
    require_open(session)
    platform = _platform_or_none(platform_id)
    language = _language_or_none(language)
    checked = check_batch(text, session)
    result = AddResult(already_known=checked.counts[STATUS_KNOWN])
    now = utcnow()
    for line in checked.new_lines:
        if selected is not None and line.number not in selected:
            result.not_selected += 1
            continue
        contact = OutreachContact(
            organisation_id=session.organisation_id,
            session_id=session.id,
            kind=line.kind,
            blind_index=line.blind_index,
            row_uid=new_row_uid(),
            platform_id=platform.id if platform else None,
            language=language,
            contacted_at=now,
            added_by_id=getattr(user, "id", None),
        )
        _seal_display(session, contact, line.value)
        db.session.add(contact)
        result.contacts.append(contact)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise OutreachError(
            _l("A teammate added some of these contacts at the same moment: check them again.")
        ) from None
    if log_first_message and result.contacts:
        for contact in result.contacts:
            db.session.add(
                _outcome(session, contact, OUTCOME_MESSAGE, "first_contact", language, None, now)
            )
    result.added = len(result.contacts)
    if result.added:
        audit.record(
            "outreach_contacts_added",
            session,
            details={
                "count": result.added,
                "kinds": dict(Counter(c.kind for c in result.contacts)),
                "first_message_logged": bool(log_first_message),
            },
        )
    return result


def session_contacts(session: OutreachSession) -> list[OutreachContact]:
    statement = (
        select(OutreachContact)
        .where(OutreachContact.session_id == session.id)
        .options(selectinload(OutreachContact.outcomes), selectinload(OutreachContact.platform))
        .order_by(OutreachContact.contacted_at, OutreachContact.id)
    )
    return list(db.session.scalars(scoped(statement, OutreachContact, session)))


def get_contact(session: OutreachSession, contact_id: int) -> OutreachContact:
    statement = select(OutreachContact).where(
        OutreachContact.id == contact_id, OutreachContact.session_id == session.id
    )
    contact = db.session.scalar(scoped(statement, OutreachContact, session))
    if contact is None:
        raise NotInScope("contact")
    return contact


def remove_contact(session: OutreachSession, contact: OutreachContact) -> None:
    """Undo a contact added by mistake (open sessions only): it and its outcomes go."""
    require_open(session)
    db.session.execute(delete(ContactOutcome).where(ContactOutcome.contact_id == contact.id))
    db.session.delete(contact)
    audit.record("outreach_contact_removed", session, details={"count": 1})


def close_session(session: OutreachSession, *, automatic: bool = False) -> int:
    """Close a round and destroy its data key: every clear number of it is gone for good.

    Blind indexes and outcomes stay, so later checks still answer "already contacted".
    Returns how many contacts lost their display value.
    """
    if not session.is_open and (session.data_key is None or session.data_key.is_destroyed):
        return 0
    erased = db.session.execute(
        update(OutreachContact)
        .where(
            OutreachContact.session_id == session.id,
            OutreachContact.display_sealed.is_not(None),
        )
        .values(display_sealed=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    shred(session, [])
    session.status = SESSION_CLOSED
    session.closed_at = session.closed_at or utcnow()
    audit.record(
        "outreach_session_closed",
        session,
        details={"contacts_erased": erased or 0, "automatic": automatic},
    )
    return erased or 0


# --- outcomes -------------------------------------------------------------------------------


def _platform_or_none(platform_id: int | None) -> Platform | None:
    if not platform_id:
        return None
    platform = db.session.get(Platform, platform_id)
    if platform is None or not platform.active:
        raise OutreachError(_l("Choose a platform from the list."))
    return platform


def _language_or_none(language: str | None) -> str | None:
    if not language:
        return None
    if language not in ALERT_LANGUAGES:
        raise OutreachError(_l("Choose a language from the list."))
    return language


def _purpose_or_none(purpose: str | None) -> str | None:
    if not purpose:
        return None
    if purpose not in MESSAGE_PURPOSES:
        raise OutreachError(_l("Choose a message purpose from the list."))
    return purpose


def _referral_or_none(kind: str, organisation_id: int | None) -> int | None:
    if kind != OUTCOME_REFERRAL:
        return None
    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    if organisation is None or not organisation.active:
        raise OutreachError(_l("Choose the association the person was referred to."))
    return organisation.id


def _checked_time(session: OutreachSession, occurred_at: dt.datetime | None) -> dt.datetime:
    now = utcnow()
    if occurred_at is None:
        return now
    if occurred_at > now + dt.timedelta(minutes=5):
        raise OutreachError(_l("An outcome cannot be in the future."))
    earliest = dt.datetime.combine(session.session_date, dt.time()) - dt.timedelta(days=1)
    if occurred_at < earliest:
        raise OutreachError(_l("An outcome cannot be earlier than its session."))
    return occurred_at


def _outcome(session, contact, kind, purpose, language, referral_id, occurred_at, user=None):
    return ContactOutcome(
        organisation_id=session.organisation_id,
        session_id=session.id,
        contact_id=contact.id,
        kind=kind,
        purpose=purpose if kind == OUTCOME_MESSAGE else None,
        language=language,
        referral_organisation_id=referral_id,
        occurred_at=occurred_at,
        recorded_by_id=getattr(user, "id", None),
    )


@dataclass
class OutcomeInput:
    kind: str
    purpose: str | None = None
    language: str | None = None
    referral_organisation_id: int | None = None
    occurred_at: dt.datetime | None = None  # naive UTC; None means now


def _validated(session: OutreachSession, data: OutcomeInput) -> OutcomeInput:
    if data.kind not in OUTCOME_KINDS:
        raise OutreachError(_l("Choose what happened from the list."))
    return OutcomeInput(
        kind=data.kind,
        purpose=_purpose_or_none(data.purpose) if data.kind == OUTCOME_MESSAGE else None,
        language=_language_or_none(data.language),
        referral_organisation_id=_referral_or_none(data.kind, data.referral_organisation_id),
        occurred_at=_checked_time(session, data.occurred_at),
    )


def log_outcomes(
    session: OutreachSession,
    contact_ids: Iterable[int],
    data: OutcomeInput,
    user: StaffUser | None = None,
) -> list[ContactOutcome]:
    """One outcome row per chosen contact of this session (a guessed id raises NotInScope)."""
    require_open(session)
    wanted = {int(i) for i in contact_ids}
    if not wanted:
        raise OutreachError(_l("Select at least one contact."))
    data = _validated(session, data)
    statement = select(OutreachContact).where(
        OutreachContact.id.in_(wanted), OutreachContact.session_id == session.id
    )
    contacts = list(db.session.scalars(scoped(statement, OutreachContact, session)))
    if len(contacts) != len(wanted):
        raise NotInScope("contact")
    outcomes = [
        _outcome(
            session,
            contact,
            data.kind,
            data.purpose,
            data.language,
            data.referral_organisation_id,
            data.occurred_at,
            user,
        )
        for contact in contacts
    ]
    db.session.add_all(outcomes)
    audit.record(
        "outreach_outcomes_logged", session, details={"kind": data.kind, "count": len(outcomes)}
    )
    return outcomes


def get_outcome(outcome_id: int, actor=None) -> ContactOutcome:
    statement = select(ContactOutcome).where(ContactOutcome.id == outcome_id)
    outcome = db.session.scalar(scoped(statement, ContactOutcome, actor))
    if outcome is None:
        raise NotInScope("outcome")
    return outcome


def update_outcome(outcome: ContactOutcome, data: OutcomeInput) -> None:
    session = outcome.session
    require_open(session)
    data = _validated(session, data)
    outcome.kind = data.kind
    outcome.purpose = data.purpose
    outcome.language = data.language
    outcome.referral_organisation_id = data.referral_organisation_id
    outcome.occurred_at = data.occurred_at
    audit.record("outreach_outcome_updated", outcome, details={"kind": data.kind})


def delete_outcome(outcome: ContactOutcome) -> None:
    require_open(outcome.session)
    audit.record("outreach_outcome_deleted", outcome, details={"kind": outcome.kind})
    db.session.delete(outcome)


def local_time_of(session: OutreachSession, moment: dt.datetime | None) -> dt.datetime | None:
    """A stored moment as the round's wall-clock time (its department's zone), naive."""
    if moment is None:
        return None
    return timezones.to_local(moment, session.department).replace(tzinfo=None)


def utc_of_local(session: OutreachSession, local: dt.datetime) -> dt.datetime:
    """A wall-clock time typed for a round (its department's zone) as stored UTC."""
    return timezones.to_utc(local, session.department)


# --- notes ----------------------------------------------------------------------------------


def notes_contain_a_number(notes: str | None) -> bool:
    """Session notes must not become a second list of numbers."""
    return bool(notes and _DIGITS_IN_NOTES.search(notes))


# --- templates ------------------------------------------------------------------------------


def seed_templates(organisation_id: int) -> int:
    """Give a new organisation every purpose × language of the programme's outreach texts
    (``worker_texts``, the ``alerts`` catalogues); its Outreach leads adapt them afterwards.

    Called when an organisation is created (``organisations.created``); idempotent, so a
    purpose added later can be seeded for existing organisations too. Flushes only.
    """
    existing = set(
        db.session.execute(
            select(MessageTemplate.purpose, MessageTemplate.language).where(
                MessageTemplate.organisation_id == organisation_id
            )
        ).all()
    )
    missing = [
        MessageTemplate(
            organisation_id=organisation_id,
            purpose=purpose,
            language=language,
            text=outreach_text(purpose, language),
        )
        for purpose in MESSAGE_PURPOSES
        for language in ALERT_LANGUAGES
        if (purpose, language) not in existing
    ]
    db.session.add_all(missing)
    db.session.flush()
    return len(missing)


def organisation_templates(actor=None) -> list[MessageTemplate]:
    statement = select(MessageTemplate).order_by(MessageTemplate.purpose, MessageTemplate.language)
    templates = list(db.session.scalars(scoped(statement, MessageTemplate, actor)))
    order = {purpose: rank for rank, purpose in enumerate(MESSAGE_PURPOSES)}
    languages = {lang: rank for rank, lang in enumerate(ALERT_LANGUAGES)}
    return sorted(
        templates, key=lambda t: (order.get(t.purpose, 99), languages.get(t.language, 99))
    )


def placeholder_values() -> dict[str, str]:
    config = current_app.config
    return {
        "programme": config["OUTREACH_PROGRAMME_NAME"],
        "register_url": config["OUTREACH_REGISTER_URL"],
        "check_url": config["OUTREACH_CHECK_URL"],
    }


def render_text(text: str, values: dict[str, str] | None = None) -> str:
    """The text as sent: known placeholders filled, anything else left as written."""
    values = values if values is not None else placeholder_values()
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def unknown_placeholders(text: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})


def sms_info(text: str) -> dict:
    encoding, segments, chars = sms_parts(text)
    return {"encoding": encoding, "segments": segments, "chars": chars}


def update_template(template: MessageTemplate, text: str, user: StaffUser | None) -> None:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise OutreachError(_l("The message cannot be empty."))
    if len(text) > TEMPLATE_MAX_LENGTH:
        raise OutreachError(
            _l("The message cannot be longer than %(count)d characters.", count=TEMPLATE_MAX_LENGTH)
        )
    unknown = unknown_placeholders(text)
    if unknown:
        raise OutreachError(
            _l(
                "Unknown placeholder %(names)s: use {programme}, {register_url} or {check_url}.",
                names=", ".join("{" + name + "}" for name in unknown),
            )
        )
    template.text = text
    template.updated_at = utcnow()
    template.updated_by_id = getattr(user, "id", None)
    audit.record(
        "outreach_template_updated",
        template,
        details={"purpose": template.purpose, "language": template.language},
    )


def get_template(template_id: int, actor=None) -> MessageTemplate:
    statement = select(MessageTemplate).where(MessageTemplate.id == template_id)
    template = db.session.scalar(scoped(statement, MessageTemplate, actor))
    if template is None:
        raise NotInScope("template")
    return template


# --- leads ----------------------------------------------------------------------------------


def is_outreach_lead(user: StaffUser | None) -> bool:
    """A user who may lead (``lead_outreach``) and holds the lead marker an Admin granted:
    she edits her team's message texts and the list of platforms."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not can("lead_outreach", user):
        return False
    return (
        db.session.scalar(select(OutreachLead.id).where(OutreachLead.user_id == user.id))
        is not None
    )


def check_can_lead(user: StaffUser | None) -> None:
    """Only someone who may lead outreach (``lead_outreach``) can be named a lead."""
    if user is None or not can("lead_outreach", user):
        raise OutreachError(_l("Only users with the Outreach role can be leads."))


# --- figures --------------------------------------------------------------------------------

FIGURE_COLUMNS = ("sessions", "messages", "replies", "calls", "registrations", "referrals")
_FIGURE_KINDS = {
    "messages": OUTCOME_MESSAGE,
    "replies": "reply",
    "calls": "call",
    "registrations": "registration",
    "referrals": OUTCOME_REFERRAL,
}


def _month_of(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def monthly_figures(
    start: dt.date,
    end: dt.date,
    organisation_id: int | None = None,
    department: str | None = None,
) -> list[dict]:
    """Sessions and outcomes per month (of the session) and department, counted in SQL.

    ``start`` and ``end`` are inclusive session dates. ``organisation_id=None`` counts every
    organisation (the statistics area; it applies its own small-cell suppression before
    publishing). Outcomes survive the contact purge, so past months do not change.
    """
    month = _month_of(OutreachSession.session_date)
    sums = [
        func.coalesce(func.sum(case((ContactOutcome.kind == kind, 1), else_=0)), 0).label(name)
        for name, kind in _FIGURE_KINDS.items()
    ]
    statement = (
        select(
            month.label("month"),
            OutreachSession.department,
            func.count(distinct(OutreachSession.id)).label("sessions"),
            *sums,
        )
        .select_from(OutreachSession)
        .outerjoin(ContactOutcome, ContactOutcome.session_id == OutreachSession.id)
        .where(OutreachSession.session_date >= start, OutreachSession.session_date <= end)
        .group_by(month, OutreachSession.department)
        .order_by(month, OutreachSession.department)
    )
    if organisation_id is not None:
        statement = statement.where(OutreachSession.organisation_id == organisation_id)
    if department:
        statement = statement.where(OutreachSession.department == department)
    return [
        {
            "month": row.month,
            "department": row.department,
            **{name: int(getattr(row, name) or 0) for name in FIGURE_COLUMNS},
        }
        for row in db.session.execute(statement)
    ]


def organisation_figures(
    actor, start: dt.date, end: dt.date, department: str | None = None
) -> list[dict]:
    """The actor's organisation's own monthly figures; none for an actor without one (never
    every organisation's, which only the statistics area reads, suppressed)."""
    organisation_id = organisation_of(actor)
    if organisation_id is None:
        return []
    return monthly_figures(start, end, organisation_id, department)


# --- retention ------------------------------------------------------------------------------


def purge_expired_contacts(now: dt.datetime | None = None) -> dict[str, int]:
    """The nightly retention job.

    * contacts first contacted before the retention period are deleted (their outcomes stay,
      unlinked, for the figures): their numbers can no longer be matched;
    * sessions left open longer than OUTREACH_SESSION_AUTO_CLOSE_DAYS are closed, which
      destroys their data keys;
    * any closed session whose key survived is shredded.
    Audited with counts only.
    """
    now = now or utcnow()
    config = current_app.config
    cutoff = months_before(now, int(config["OUTREACH_CONTACT_RETENTION_MONTHS"]))
    expired = select(OutreachContact.id).where(OutreachContact.contacted_at < cutoff)
    db.session.execute(
        update(ContactOutcome)
        .where(ContactOutcome.contact_id.in_(expired))
        .values(contact_id=None)
        .execution_options(synchronize_session=False)
    )
    purged = db.session.execute(
        delete(OutreachContact)
        .where(OutreachContact.contacted_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    checkpoint()  # the numbers past retention are gone, whatever happens next
    stale = now.date() - dt.timedelta(days=int(config["OUTREACH_SESSION_AUTO_CLOSE_DAYS"]))
    left_open = db.session.scalars(
        select(OutreachSession).where(
            OutreachSession.status == SESSION_OPEN, OutreachSession.session_date < stale
        )
    ).all()
    for session in left_open:
        close_session(session, automatic=True)
        checkpoint()  # each closed round's key is destroyed for good
    # Closing always shreds; this catches a key that survived anyway (an interrupted close).
    surviving = db.session.scalars(
        select(OutreachSession)
        .join(DataKey, DataKey.id == OutreachSession.data_key_id)
        .where(OutreachSession.status == SESSION_CLOSED, DataKey.wrapped_key.is_not(None))
    ).all()
    for session in surviving:
        close_session(session, automatic=True)
    closed, shredded = len(left_open), len(surviving)
    counts = {"contacts_purged": purged or 0, "sessions_closed": closed, "keys_shredded": shredded}
    audit.record(
        "outreach_contacts_purged",
        object_type="OutreachContact",
        details={**counts, "cutoff": cutoff.date().isoformat()},
    )
    return counts


# --- platforms ------------------------------------------------------------------------------


def ensure_platforms(names_and_kinds: list[tuple[str, str]]) -> dict[str, Platform]:
    existing = {p.name: p for p in db.session.scalars(select(Platform))}
    for name, kind in names_and_kinds:
        if name not in existing:
            existing[name] = Platform(name=name, kind=kind, active=True)
            db.session.add(existing[name])
    db.session.flush()
    return existing
