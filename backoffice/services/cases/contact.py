"""The person and the facts: contact details (sealed with the case's key) and what happened
(clear, non-personal terms)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _

from backoffice.models.case import Case
from backoffice.services import identifiers
from backoffice.services.cases.rules import (
    NAME_MAX_LENGTH,
    SHORT_TEXT_MAX_LENGTH,
    CaseRuleError,
    check_codes,
    clean_text,
)
from backoffice.services.cases.sealed import SealedReader, reading
from backoffice.services.timezones import local_today
from backoffice.services.vocabulary import DEPARTMENTS, VIOLENCE_TYPES

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
    """What happened, in the clear non-personal terms a case keeps. The date and time are
    the wall clock of the department where it happened."""

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
        types = check_codes(self.violence_types, VIOLENCE_TYPES, "violence_types")
        return CaseFacts(self.incident_date, self.incident_time, self.department or None, types)


def seal_contact(case: Case, contact: Contact) -> None:
    case.victim_name = contact.name
    case.victim_phone = contact.phone
    case.victim_email = contact.email
    case.victim_preferred_language = contact.preferred_language
    case.contact_instructions = contact.instructions


def apply_facts(case: Case, facts: CaseFacts) -> None:
    case.incident_date = facts.incident_date
    case.incident_time = facts.incident_time
    case.department = facts.department
    case.violence_types = list(facts.violence_types)


def facts_of(case: Case) -> CaseFacts:
    return CaseFacts(
        case.incident_date, case.incident_time, case.department, list(case.violence_types or [])
    )


def read_contact(case: Case, reader: SealedReader | None = None) -> Contact | None:
    """The contact details in clear (each read is audited); None once erased."""
    if case.is_erased:
        return None
    with reading(case, reader) as sealed:
        return Contact(
            name=sealed.open(case, "victim_name"),
            phone=sealed.open(case, "victim_phone"),
            email=sealed.open(case, "victim_email"),
            preferred_language=sealed.open(case, "victim_preferred_language"),
            instructions=sealed.open(case, "contact_instructions"),
        )
