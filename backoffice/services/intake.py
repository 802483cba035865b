"""Report intake: validation, normalisation, encrypted storage, corroboration, anonymisation.

Every channel goes through ``submit_report``: the public API (``views/api.py``) and the staff
form for reports taken on behalf of a worker (``views/reports.py``). The body is API.md's
report body; the form builds the same dict.

* ``validate_report(payload)`` is pure: it checks every field and returns a ``ReportInput``
  of normalised values, or raises ``ValidationFailed`` with every problem at once, keyed by
  field path (``incident.date``, ``aggressor.identifiers[1].value``). Messages are lazy
  strings: the staff form shows them in the user's language, the API in English.
* Unknown fields are refused (422, "Unknown field."), at every level. A misspelt optional
  field (``victim.contact.phon``) would otherwise be dropped silently, and the worker would
  believe she left a way to reach her. Adding optional fields later stays compatible: the
  server learns a field before clients send it.
* ``create_report(data, …)`` writes the report, its identifiers and the audit event in the
  caller's transaction (no commit here: the API adds its idempotency record and commits
  once, so a failure part-way leaves nothing). Victim details are sealed with the report's
  own data key; identifiers are sealed with the root key (they must outlive the erasure of
  the victim's data) and get a blind index per kind, which is how corroboration finds other
  reports naming the same aggressor.
* ``anonymise_pending`` is the scheduled job proposing a redacted narrative; intake never
  waits for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.orm import aliased

from backoffice.extensions import db
from backoffice.models.base import new_row_uid, utcnow
from backoffice.models.report import (
    REPORT_STATUS_RECEIVED,
    IdempotencyRecord,
    Report,
    ReportIdentifier,
)
from backoffice.services import audit, identifiers, references
from backoffice.services.confidential import ErasedError, keyring
from backoffice.services.crypto import associated_data
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    CHANNELS,
    DEPARTMENTS,
    IDENTIFIER_KINDS,
    REPORTER_RELATIONS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
    severity_for,
)
from backoffice.transactions import checkpoint

log = logging.getLogger(__name__)

NARRATIVE_MAX = 10_000
MAX_IDENTIFIERS = 20
IDENTIFIER_VALUE_MAX = 300
PLATFORM_MAX = 80
SHORT_TEXT_MAX = 100
DATE_PRECISIONS = ("day", "week", "month")
EARLIEST_INCIDENT = dt.date(1990, 1, 1)
CONSENT_ITEMS = ("publish_alert", "follow_up", "share_with_partner", "statistics")

# Suggested values of the aggressor description: those the alert renderer translates into
# the ten alert languages (alert_text). Other values are kept as free text, untranslated.
GENDERS = ("man", "woman", "trans woman", "trans man", "non-binary", "unknown")
AGE_RANGES = ("18-25", "26-35", "36-45", "46-55", "56-65", "65+")
HEIGHTS = ("short", "medium", "tall")
BUILDS = ("slim", "medium", "heavy", "muscular")
_SUGGESTED = {"gender": GENDERS, "age_range": AGE_RANGES, "height": HEIGHTS, "build": BUILDS}

# Allowed keys at each level of the body (API.md, plus incident.date_precision and
# consent.police_or_lawyer, both optional).
_TOP_KEYS = frozenset(
    {"language", "channel", "incident", "narrative", "aggressor", "victim", "consent", "reporter"}
)
_INCIDENT_KEYS = frozenset(
    {"date", "time", "date_precision", "department", "city", "context", "violence_types"}
)
_AGGRESSOR_KEYS = frozenset({"description", "vehicle", "identifiers"})
_DESCRIPTION_TEXT = {
    "gender": 40,
    "age_range": 40,
    "height": 40,
    "build": 40,
    "hair": SHORT_TEXT_MAX,
    "distinctive_signs": 500,
}
_DESCRIPTION_KEYS = frozenset({*_DESCRIPTION_TEXT, "languages"})
_VEHICLE_TEXT = {"make": 60, "model": 60, "colour": 60}
_VEHICLE_KEYS = frozenset({*_VEHICLE_TEXT, "plate"})
_IDENTIFIER_KEYS = frozenset({"kind", "value", "platform"})
_VICTIM_KEYS = frozenset({"pseudonym", "contact", "preferred_language"})
_CONTACT_KEYS = frozenset({"phone", "email"})
_CONSENT_KEYS = frozenset({*CONSENT_ITEMS, "police_or_lawyer"})
_REPORTER_KEYS = frozenset({"relation"})

_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?")


# --- messages -------------------------------------------------------------------------------


class Message:
    """A validation message: shown in the user's language, or in English for the API.

    ``english`` overrides the English rendering when a more precise English sentence exists
    (the identifier normaliser's own explanation), while staff see the translated one.
    """

    __slots__ = ("english", "lazy")

    def __init__(self, lazy, english: str | None = None) -> None:
        self.lazy = lazy
        self.english = english

    def __str__(self) -> str:
        return str(self.lazy)

    def in_english(self) -> str:
        if self.english is not None:
            return self.english
        with force_locale("en"):
            return str(self.lazy)


class ValidationFailed(Exception):
    """The body breaks one or more rules; ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[Message]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")  # paths only, never values
        self.errors = errors

    def in_english(self) -> dict[str, list[str]]:
        return {path: [m.in_english() for m in messages] for path, messages in self.errors.items()}

    def localised(self) -> dict[str, list[str]]:
        return {path: [str(m) for m in messages] for path, messages in self.errors.items()}


def _identifier_message(kind: str, reason: str):
    """The translatable message for an identifier refused by ``identifiers.normalise``."""
    specific = {
        ("phone", "too_short"): _l("This phone number is too short."),
        ("phone", "too_long"): _l("This phone number is too long."),
        ("phone", "letters"): _l("A phone number cannot contain letters."),
        ("phone", "characters"): _l(
            "A phone number can only contain digits, spaces, dots, dashes, brackets and a "
            "leading +."
        ),
        ("plate", "too_short"): _l("This licence plate is too short."),
        ("plate", "too_long"): _l("This licence plate is too long."),
        ("plate", "characters"): _l(
            "A licence plate can only contain letters, digits, spaces, dashes and dots."
        ),
        ("pseudonym", "too_long"): _l("This pseudonym is too long."),
    }
    general = {
        "phone": _l("This is not a valid phone number."),
        "email": _l("This email address is not valid."),
        "plate": _l("This licence plate is not valid."),
        "pseudonym": _l("This pseudonym is not valid."),
        "url": _l("This web address is not valid."),
    }
    if reason == "empty":
        return _l("This field is required.")
    return specific.get((kind, reason)) or general.get(kind, _l("This value is not valid."))


# --- validated input ------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentifierInput:
    kind: str
    value: str  # normalised
    platform: str | None = None


@dataclass
class ReportInput:
    """A report body, validated and normalised."""

    channel: str
    language: str | None
    incident_date: dt.date
    incident_time: dt.time | None
    date_precision: str
    department: str
    city: str | None
    work_context: str | None
    violence_types: list[str]
    narrative: str
    aggressor_description: dict = field(default_factory=dict)
    vehicle: dict = field(default_factory=dict)
    identifiers: list[IdentifierInput] = field(default_factory=list)
    victim_pseudonym: str | None = None
    victim_phone: str | None = None
    victim_email: str | None = None
    victim_preferred_language: str | None = None
    consent_publish_alert: bool = False
    consent_follow_up: bool = False
    consent_share_with_partner: bool = False
    consent_statistics: bool = False
    consent_police_or_lawyer: bool = False
    reporter_relation: str | None = None


class _Checker:
    """Collects every error of a body, keyed by field path."""

    def __init__(self) -> None:
        self.errors: dict[str, list[Message]] = {}

    def add(self, path: str, lazy, english: str | None = None) -> None:
        self.errors.setdefault(path, []).append(Message(lazy, english))

    def obj(self, parent: dict, key: str, path: str, allowed: frozenset, required=False):
        """The sub-object ``parent[key]`` (unknown keys reported), or None."""
        value = parent.get(key)
        if value is None:
            if required:
                self.add(path, _l("This field is required."))
            return None
        if not isinstance(value, dict):
            self.add(path, _l("Must be an object."))
            return None
        self.unknown(value, allowed, path)
        return value

    def unknown(self, data: dict, allowed: frozenset, path: str) -> None:
        for key in data:
            if key not in allowed:
                self.add(_join(path, str(key)), _l("Unknown field."))

    def text(
        self,
        data: dict,
        key: str,
        path: str,
        max_length: int,
        required: bool = False,
        multiline: bool = False,
    ) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(path, _l("This field is required."))
            return None
        if not isinstance(value, str):
            self.add(path, _l("Must be text."))
            return None
        if "\x00" in value or _has_surrogate(value):
            self.add(path, _l("Contains characters that are not allowed."))
            return None
        if multiline:
            value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        else:
            value = " ".join(value.split())
        if not value:
            if required:
                self.add(path, _l("This field is required."))
            return None
        if len(value) > max_length:
            self.add(path, _l("At most %(max)d characters.", max=max_length))
            return None
        return value

    def choice(
        self, data: dict, key: str, path: str, choices: Iterable[str], required: bool = False
    ) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.add(path, _l("This field is required."))
            return None
        choices = tuple(choices)
        if not isinstance(value, str) or value not in choices:
            self.add(
                path,
                _l("Must be one of: %(values)s.", values=", ".join(choices)),
            )
            return None
        return value

    def boolean(self, data: dict, key: str, path: str, required: bool = False) -> bool:
        value = data.get(key)
        if value is None:
            if required:
                self.add(path, _l("This field is required: answer true or false."))
            return False
        if not isinstance(value, bool):
            self.add(path, _l("Must be true or false."))
            return False
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _has_surrogate(text: str) -> bool:
    # json.loads accepts lone surrogates ("\ud800"); they cannot be encoded to UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate_report(payload: object, default_channel: str = "web") -> ReportInput:
    """Check and normalise a report body; raise ``ValidationFailed`` listing every problem."""
    check = _Checker()
    if not isinstance(payload, dict):
        check.add("", _l("The body must be a JSON object."))
        raise ValidationFailed(check.errors)
    check.unknown(payload, _TOP_KEYS, "")
    channel = check.choice(payload, "channel", "channel", CHANNELS) or default_channel
    language = _language(check, payload, "language", "language")
    incident = _incident(check, payload)
    narrative = check.text(payload, "narrative", "narrative", NARRATIVE_MAX, True, True)
    description, vehicle, found = _aggressor(check, payload)
    victim = _victim(check, payload)
    consents = _consent(check, payload)
    reporter = check.obj(payload, "reporter", "reporter", _REPORTER_KEYS) or {}
    relation = check.choice(reporter, "relation", "reporter.relation", REPORTER_RELATIONS)
    if check.errors:
        raise ValidationFailed(check.errors)
    return ReportInput(
        channel=channel,
        language=language,
        narrative=narrative,
        aggressor_description=description,
        vehicle=vehicle,
        identifiers=found,
        reporter_relation=relation,
        **incident,
        **victim,
        **consents,
    )


def _language(check: _Checker, data: dict, key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 35 or not _LANGUAGE_TAG.fullmatch(value):
        check.add(path, _l("Must be a language code such as fr or pt-BR."))
        return None
    primary, *rest = value.split("-")
    subtags = [s.upper() if len(s) == 2 else s.title() if len(s) == 4 else s.lower() for s in rest]
    return "-".join([primary.lower(), *subtags])


def _incident(check: _Checker, payload: dict) -> dict:
    if payload.get("incident") is not None and not isinstance(payload["incident"], dict):
        check.add("incident", _l("Must be an object."))
        incident = None
    else:  # absent: each required field below says so at its own path
        incident = check.obj(payload, "incident", "incident", _INCIDENT_KEYS) or {}
    if incident is None:
        return dict.fromkeys(
            ("incident_date", "incident_time", "department", "city", "work_context")
        ) | {"date_precision": "day", "violence_types": []}
    return {
        "incident_date": _date(check, incident),
        "incident_time": _time(check, incident),
        "date_precision": check.choice(
            incident, "date_precision", "incident.date_precision", DATE_PRECISIONS
        )
        or "day",
        "department": _department(check, incident),
        "city": check.text(incident, "city", "incident.city", 120),
        "work_context": check.choice(incident, "context", "incident.context", WORK_CONTEXTS),
        "violence_types": _violence_types(check, incident),
    }


def _date(check: _Checker, incident: dict) -> dt.date | None:
    value = incident.get("date")
    path = "incident.date"
    if value is None or value == "":
        check.add(path, _l("This field is required."))
        return None
    try:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError
        date = dt.date.fromisoformat(value)
    except ValueError:
        check.add(path, _l("Must be a date written YYYY-MM-DD."))
        return None
    # One day of tolerance: a report sent just after midnight in a time zone ahead of UTC.
    if date > utcnow().date() + dt.timedelta(days=1):
        check.add(path, _l("The date cannot be in the future."))
        return None
    if date < EARLIEST_INCIDENT:
        check.add(path, _l("The date is too far in the past."))
        return None
    return date


def _time(check: _Checker, incident: dict) -> dt.time | None:
    value = incident.get("time")
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            raise ValueError
        return dt.time.fromisoformat(value)
    except ValueError:
        check.add("incident.time", _l("Must be a time written HH:MM."))
        return None


def _department(check: _Checker, incident: dict) -> str | None:
    value = incident.get("department")
    path = "incident.department"
    if value is None or value == "":
        check.add(path, _l("This field is required."))
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:02d}"
    if not isinstance(value, str):
        check.add(path, _l("Must be text."))
        return None
    code = value.strip().upper()
    code = "0" + code if len(code) == 1 and code.isdigit() else code
    if code not in DEPARTMENTS:
        check.add(path, _l("Not a French department code (such as 75, 2A or 974)."))
        return None
    return code


def _violence_types(check: _Checker, incident: dict) -> list[str]:
    value = incident.get("violence_types")
    path = "incident.violence_types"
    if value is None or value == []:
        check.add(path, _l("Choose at least one type of violence."))
        return []
    if not isinstance(value, list):
        check.add(path, _l("Must be a list."))
        return []
    chosen: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in VIOLENCE_TYPES:
            check.add(
                f"{path}[{index}]",
                _l("Must be one of: %(values)s.", values=", ".join(VIOLENCE_TYPES)),
            )
        elif item not in chosen:
            chosen.append(item)
    return chosen


def _aggressor(check: _Checker, payload: dict) -> tuple[dict, dict, list[IdentifierInput]]:
    aggressor = check.obj(payload, "aggressor", "aggressor", _AGGRESSOR_KEYS) or {}
    description = _description(check, aggressor)
    vehicle_in = check.obj(aggressor, "vehicle", "aggressor.vehicle", _VEHICLE_KEYS) or {}
    vehicle = {
        key: value
        for key, limit in _VEHICLE_TEXT.items()
        if (value := check.text(vehicle_in, key, f"aggressor.vehicle.{key}", limit))
    }
    found: list[IdentifierInput] = []
    plate = check.text(vehicle_in, "plate", "aggressor.vehicle.plate", IDENTIFIER_VALUE_MAX)
    if plate:
        _add_identifier(check, found, "plate", plate, None, "aggressor.vehicle.plate")
    _identifiers(check, aggressor, found)
    return description, vehicle, found


def _description(check: _Checker, aggressor: dict) -> dict:
    path = "aggressor.description"
    data = check.obj(aggressor, "description", path, _DESCRIPTION_KEYS) or {}
    description = {}
    for key, limit in _DESCRIPTION_TEXT.items():
        value = check.text(data, key, f"{path}.{key}", limit)
        if value:
            description[key] = _suggested(key, value)
    languages = data.get("languages")
    if languages is not None:
        if not isinstance(languages, list) or len(languages) > 10:
            check.add(f"{path}.languages", _l("Must be a list of at most 10 language codes."))
        else:
            codes = [
                _language(check, {"v": item}, "v", f"{path}.languages[{index}]")
                for index, item in enumerate(languages)
            ]
            description["languages"] = list(dict.fromkeys(c for c in codes if c))
    return description


def _suggested(key: str, value: str) -> str:
    """A suggested value's code when the text is one in another spelling, else the text."""
    suggestions = _SUGGESTED.get(key)
    if not suggestions:
        return value
    folded = value.casefold().replace("_", " ")
    folded = "non-binary" if folded in ("non binary", "nonbinary") else folded
    return folded if folded in suggestions else value


def _identifiers(check: _Checker, aggressor: dict, found: list[IdentifierInput]) -> None:
    path = "aggressor.identifiers"
    items = aggressor.get("identifiers")
    if items is None:
        return
    if not isinstance(items, list):
        check.add(path, _l("Must be a list."))
        return
    if len(items) > MAX_IDENTIFIERS:
        check.add(path, _l("At most %(max)d identifiers.", max=MAX_IDENTIFIERS))
        return
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            check.add(item_path, _l("Must be an object."))
            continue
        check.unknown(item, _IDENTIFIER_KEYS, item_path)
        kind = check.choice(item, "kind", f"{item_path}.kind", IDENTIFIER_KINDS, required=True)
        value = check.text(item, "value", f"{item_path}.value", IDENTIFIER_VALUE_MAX, True)
        platform = check.text(item, "platform", f"{item_path}.platform", PLATFORM_MAX)
        if kind and value:
            _add_identifier(check, found, kind, value, platform, f"{item_path}.value")


def _add_identifier(
    check: _Checker,
    found: list[IdentifierInput],
    kind: str,
    value: str,
    platform: str | None,
    path: str,
) -> None:
    try:
        normalised = identifiers.normalise(kind, value)
    except identifiers.InvalidIdentifier as exc:
        check.add(path, _identifier_message(kind, exc.reason), english=exc.message)
        return
    # Where a pseudonym or a profile was seen; meaningless for a phone or a plate.
    platform = platform if kind in ("pseudonym", "url") else None
    candidate = IdentifierInput(kind, normalised, platform)
    if all((i.kind, i.value) != (kind, normalised) for i in found):
        found.append(candidate)


def _victim(check: _Checker, payload: dict) -> dict:
    victim = check.obj(payload, "victim", "victim", _VICTIM_KEYS) or {}
    contact = check.obj(victim, "contact", "victim.contact", _CONTACT_KEYS) or {}
    language = check.choice(
        victim, "preferred_language", "victim.preferred_language", ALERT_LANGUAGES
    )
    return {
        "victim_pseudonym": check.text(victim, "pseudonym", "victim.pseudonym", SHORT_TEXT_MAX),
        "victim_phone": _contact(check, contact, "phone"),
        "victim_email": _contact(check, contact, "email"),
        "victim_preferred_language": language,
    }


def _contact(check: _Checker, contact: dict, kind: str) -> str | None:
    path = f"victim.contact.{kind}"
    value = check.text(contact, kind, path, 320)
    if not value:
        return None
    try:
        return identifiers.normalise(kind, value)
    except identifiers.InvalidIdentifier as exc:
        check.add(path, _identifier_message(kind, exc.reason), english=exc.message)
        return None


def _consent(check: _Checker, payload: dict) -> dict:
    consent = check.obj(payload, "consent", "consent", _CONSENT_KEYS, required=True)
    if consent is None:
        return {}
    # Each item is asked and answered explicitly: a missing answer is not a "no" by default.
    values = {
        f"consent_{item}": check.boolean(consent, item, f"consent.{item}", required=True)
        for item in CONSENT_ITEMS
    }
    # Only if she asks: absent means she did not.
    values["consent_police_or_lawyer"] = check.boolean(
        consent, "police_or_lawyer", "consent.police_or_lawyer"
    )
    return values


# --- storage --------------------------------------------------------------------------------


def submit_report(
    payload: object,
    *,
    default_channel: str = "web",
    api_client=None,
    filed_by=None,
    filing_organisation_id: int | None = None,
) -> Report:
    """Validate and store a report in the caller's transaction (the caller commits)."""
    data = validate_report(payload, default_channel=default_channel)
    return create_report(
        data,
        api_client=api_client,
        filed_by=filed_by,
        filing_organisation_id=filing_organisation_id,
    )


def create_report(
    data: ReportInput,
    *,
    api_client=None,
    filed_by=None,
    filing_organisation_id: int | None = None,
    received_at: dt.datetime | None = None,
) -> Report:
    """Add the report, its identifiers and the audit event to the caller's transaction.

    Nothing is flushed here: the caller's commit writes everything in one flush.
    """
    now = utcnow()
    received_at = received_at or now
    report = _new_report(data, received_at)
    report.api_client_id = getattr(api_client, "id", None)
    report.filed_by_id = getattr(filed_by, "id", None)
    report.filing_organisation_id = filing_organisation_id
    # Sealed with the report's own data key: erasing the key erases her details.
    report.victim_pseudonym = data.victim_pseudonym
    report.victim_phone = data.victim_phone
    report.victim_email = data.victim_email
    report.victim_preferred_language = data.victim_preferred_language
    report.identifiers = [_identifier_row(i, now) for i in data.identifiers]
    # Taken last: on SQLite the counter is part of this transaction (see references).
    report.reference = references.next_reference("J", received_at)
    db.session.add(report)
    audit.record(
        "report_received",
        report,
        details={"channel": data.channel, "identifiers": len(data.identifiers)},
    )
    return report


def _new_report(data: ReportInput, received_at: dt.datetime) -> Report:
    return Report(
        status=REPORT_STATUS_RECEIVED,
        channel=data.channel,
        language=data.language,
        incident_date=data.incident_date,
        incident_time=data.incident_time,
        date_precision=data.date_precision,
        department=data.department,
        city=data.city,
        work_context=data.work_context,
        violence_types=list(data.violence_types),
        severity=severity_for(data.violence_types),
        narrative=data.narrative,
        aggressor_description=dict(data.aggressor_description),
        vehicle=dict(data.vehicle),
        consent_publish_alert=data.consent_publish_alert,
        consent_follow_up=data.consent_follow_up,
        consent_share_with_partner=data.consent_share_with_partner,
        consent_statistics=data.consent_statistics,
        consent_police_or_lawyer=data.consent_police_or_lawyer,
        reporter_relation=data.reporter_relation,
        received_at=received_at,
        redaction_status="pending",
        row_uid=new_row_uid(),
    )


def _identifier_row(item: IdentifierInput, created_at: dt.datetime) -> ReportIdentifier:
    row_uid = new_row_uid()
    ring = keyring()
    return ReportIdentifier(
        kind=item.kind,
        blind_index=ring.blind_index(item.kind, item.value),
        value_sealed=ring.seal(item.value, identifier_aad(row_uid)),
        row_uid=row_uid,
        platform=item.platform,
        created_at=created_at,
    )


def identifier_aad(row_uid: str) -> bytes:
    return associated_data("report_identifiers", "value", row_uid, None)


def identifier_value(row: ReportIdentifier) -> str:
    """The clear, normalised value of a stored identifier (aggressor data, lookup class)."""
    return keyring().open(row.value_sealed, identifier_aad(row.row_uid))


# --- corroboration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corroboration:
    """Other reports naming the same identifier as one of this report's."""

    identifier_id: int
    kind: str
    other_reports: int
    since: dt.datetime  # when the earliest of them was received


def corroborations(report: Report) -> list[Corroboration]:
    """For each identifier of ``report`` found in other reports: how many, and since when."""
    mine, other = ReportIdentifier, aliased(ReportIdentifier)
    statement = (
        select(
            mine.id,
            mine.kind,
            func.count(func.distinct(other.report_id)),
            func.min(Report.received_at),
        )
        .join(
            other,
            and_(
                other.kind == mine.kind,
                other.blind_index == mine.blind_index,
                other.report_id != mine.report_id,
            ),
        )
        .join(Report, Report.id == other.report_id)
        .where(mine.report_id == report.id)
        .group_by(mine.id, mine.kind)
        .order_by(mine.id)
    )
    return [Corroboration(*row) for row in db.session.execute(statement)]


def reports_naming(kind: str, value: str, exclude_report_id: int | None = None) -> list[Report]:
    """Reports whose identifiers include ``value`` (normalised here), oldest first."""
    normalised = identifiers.normalise(kind, value)
    return _reports_with(kind, keyring().blind_index(kind, normalised), exclude_report_id)


def corroborating_reports(identifier: ReportIdentifier) -> list[Report]:
    """The other reports sharing this stored identifier, oldest first."""
    return _reports_with(identifier.kind, identifier.blind_index, identifier.report_id)


def _reports_with(kind: str, blind_index: str, exclude_report_id: int | None) -> list[Report]:
    # A subquery rather than DISTINCT: PostgreSQL cannot compare the report's JSON columns.
    matching = select(ReportIdentifier.report_id).where(
        ReportIdentifier.kind == kind, ReportIdentifier.blind_index == blind_index
    )
    statement = select(Report).where(Report.id.in_(matching)).order_by(Report.received_at)
    if exclude_report_id is not None:
        statement = statement.where(Report.id != exclude_report_id)
    return list(db.session.scalars(statement))


# --- API idempotency ------------------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used by the same client with a different body."""


def request_fingerprint(payload: object) -> str:
    """SHA-256 of the body's canonical JSON: key order and spacing do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def idempotent_answer(api_client_id: int, key: str, fingerprint: str) -> tuple[int, dict] | None:
    """The first answer to this key from this client within the window, if any.

    Raises IdempotencyConflict when the key was used for another body. An expired record is
    deleted (in the caller's transaction), so the key can be used again.
    """
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_client_id == api_client_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.created_at < utcnow() - _idempotency_window():
        db.session.delete(record)
        db.session.flush()
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflict
    return record.status_code, dict(record.response_json)


def remember_answer(
    api_client_id: int, key: str, fingerprint: str, status_code: int, body: dict
) -> None:
    """Store the answer in the caller's transaction, with the report it describes.

    Written at once: a key already taken raises IntegrityError here (see the API view).
    """
    db.session.execute(
        insert(IdempotencyRecord).values(
            api_client_id=api_client_id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response_json=body,
            created_at=utcnow(),
        )
    )


def purge_idempotency_records() -> int:
    """Scheduled: forget answers older than the idempotency window."""
    result = db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < utcnow() - _idempotency_window()
        )
    )
    return result.rowcount or 0


def _idempotency_window() -> dt.timedelta:
    return dt.timedelta(hours=current_app.config.get("API_IDEMPOTENCY_HOURS", 24))


# --- anonymisation job ----------------------------------------------------------------------


def anonymise_pending(batch_size: int = 20, time_budget_seconds: float = 25.0) -> int:
    """Scheduled: propose a redacted narrative for reports still waiting for one.

    ``keep`` holds the aggressor's identifiers (they are what an alert is for); ``deny`` the
    victim's declared pseudonym, phone and email, which go even when the recognisers miss
    them (their decryption is audited, by "system"). Returns how many reports were handled.
    """
    from backoffice.services import anonymise  # heavy (spaCy): only the job loads it

    anonymise.warm_up()
    started, handled = time.monotonic(), 0
    while time.monotonic() - started < time_budget_seconds:
        ids = db.session.scalars(
            select(Report.id)
            .where(Report.redaction_status == "pending")
            .order_by(Report.id)
            .limit(batch_size)
        ).all()
        if not ids:
            break
        for report_id in ids:
            _anonymise_one(anonymise, report_id)
        checkpoint()  # each batch's proposals are kept, whatever happens to the next
        handled += len(ids)
    return handled


def _anonymise_one(anonymise, report_id: int) -> None:
    report = db.session.get(Report, report_id)
    try:
        keep = [identifier_value(row) for row in report.identifiers]
        redaction = anonymise.propose_redaction(
            report.narrative,
            language=report.language or "fr",
            keep=keep,
            deny=_victim_details(report),
        )
        values = {"redaction_status": "proposed", "redaction_proposal": redaction.to_json()}
    except Exception as exc:  # one bad report must not stop the others
        # The type only: messages may quote the text.
        log.warning("Anonymisation of report %s failed (%s)", report_id, type(exc).__name__)
        values = {"redaction_status": "failed", "redaction_proposal": None}
    # A plain UPDATE: no version bump (a moderator's open form stays valid) and no double
    # work if two runs overlap (only a still-pending report is written).
    db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.redaction_status == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(report)


def _victim_details(report: Report) -> list[str]:
    try:
        values = [report.victim_pseudonym, report.victim_phone, report.victim_email]
    except ErasedError:
        return []  # her details were erased: nothing left to deny
    return [v for v in values if v]
