"""A report body (shared/API.md), declared once: ``POST /api/v1/reports`` and the staff form.

``ReportSchema`` checks every field, reports every problem at once by path, and loads a
``ReportInput`` of normalised values: texts tidied, codes checked, departments and language
tags in their usual spelling, identifiers normalised by ``services.identifiers`` (the plate of
the vehicle joins them, repeated ones are kept once). ``services.intake`` validates with it
whoever calls (the API, the staff form, the demo seeder); the API document is generated from
it. Required: ``incident.date``, ``incident.department``, at least one violence type, the
narrative and the four consent answers. Everything else is optional.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, post_load, pre_load

from backoffice.models.report import DATE_PRECISIONS
from backoffice.schemas.base import AnswerSchema, Message, ParametersSchema, Refusal, RequestSchema
from backoffice.schemas.fields import (
    Choice,
    ClockTime,
    Department,
    Flag,
    Items,
    LanguageTag,
    Object,
    PastDate,
    Text,
    Token,
)
from backoffice.services import identifiers
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    CHANNELS,
    IDENTIFIER_KINDS,
    REPORTER_RELATIONS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
)

NARRATIVE_MAX = 10_000
MAX_IDENTIFIERS = 20
IDENTIFIER_VALUE_MAX = 300
CONTACT_MAX = 320
PLATFORM_MAX = 80
SHORT_TEXT_MAX = 100
EARLIEST_INCIDENT = dt.date(1990, 1, 1)
IDEMPOTENCY_KEY_MAX = 64
CONSENT_ITEMS = ("publish_alert", "follow_up", "share_with_partner", "statistics")

# Suggested values of the aggressor description: those the alert renderer translates into
# the ten alert languages (alert_text). Other values are kept as free text, untranslated.
GENDERS = ("man", "woman", "trans woman", "trans man", "non-binary", "unknown")
AGE_RANGES = ("18-25", "26-35", "36-45", "46-55", "56-65", "65+")
HEIGHTS = ("short", "medium", "tall")
BUILDS = ("slim", "medium", "heavy", "muscular")
_SUGGESTED = {"gender": GENDERS, "age_range": AGE_RANGES, "height": HEIGHTS, "build": BUILDS}


# --- what a valid body becomes --------------------------------------------------------------


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


# --- identifiers ----------------------------------------------------------------------------


def identifier_message(kind: str, reason: str):
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


def normalised_identifier(kind: str, value: str) -> str:
    """``identifiers.normalise``, its refusal as a validation message (never the value).

    Staff read the translated message; the API the normaliser's own English explanation.
    """
    try:
        return identifiers.normalise(kind, value)
    except identifiers.InvalidIdentifier as exc:
        message = Message(identifier_message(kind, exc.reason), exc.message)
        raise ValidationError([message]) from None


class IdentifierValue(Text):
    """Text that must be a valid identifier of ``kind``; loads its normalised form."""

    def __init__(self, kind: str, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length, **kwargs)
        self.kind = kind

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        return normalised_identifier(self.kind, text) if text else None


# --- the body -------------------------------------------------------------------------------


class IncidentSchema(RequestSchema):
    date = PastDate(EARLIEST_INCIDENT, required=True)
    time = ClockTime()
    date_precision = Choice(
        DATE_PRECISIONS, metadata={"description": "How precise the date is. Absent: day."}
    )
    department = Department(required=True)
    city = Text(120)
    context = Choice(WORK_CONTEXTS)
    violence_types = Items(
        Choice(VIOLENCE_TYPES, allow_none=False),
        required=True,
        min_items=1,
        unique=True,
        error_messages={
            "required": _l("Choose at least one type of violence."),
            "null": _l("Choose at least one type of violence."),
        },
    )


class DescriptionSchema(RequestSchema):
    gender = Text(40, metadata={"examples": list(GENDERS)})
    age_range = Text(40, metadata={"examples": list(AGE_RANGES)})
    height = Text(40, metadata={"examples": list(HEIGHTS)})
    build = Text(40, metadata={"examples": list(BUILDS)})
    hair = Text(SHORT_TEXT_MAX)
    distinctive_signs = Text(500)
    languages = Items(
        LanguageTag(),
        max_items=10,
        unique=True,
        drop_none=True,
        error_messages={
            "invalid": _l("Must be a list of at most 10 language codes."),
            "too_many": _l("Must be a list of at most 10 language codes."),
        },
    )

    @post_load
    def _kept(self, data: dict, **_kwargs: Any) -> dict:
        """Only what was given; a suggested value in another spelling becomes its code."""
        return {key: _suggested(key, value) for key, value in data.items() if value}


def _suggested(key: str, value: Any) -> Any:
    suggestions = _SUGGESTED.get(key)
    if not suggestions:
        return value
    folded = value.casefold().replace("_", " ")
    folded = "non-binary" if folded in ("non binary", "nonbinary") else folded
    return folded if folded in suggestions else value


class VehicleSchema(RequestSchema):
    make = Text(60)
    model = Text(60)
    colour = Text(60)
    plate = IdentifierValue(
        "plate",
        IDENTIFIER_VALUE_MAX,
        metadata={"description": "Also stored as an identifier of kind plate."},
    )


class IdentifierSchema(RequestSchema):
    kind = Choice(IDENTIFIER_KINDS, required=True)
    value = Text(IDENTIFIER_VALUE_MAX, required=True)
    platform = Text(PLATFORM_MAX, metadata={"description": "Where a pseudonym or URL was seen."})

    @post_load
    def _normalised(self, data: dict, **_kwargs: Any) -> IdentifierInput:
        kind = data["kind"]
        try:
            value = normalised_identifier(kind, data["value"])
        except ValidationError as error:
            raise ValidationError({"value": error.messages}) from None
        # Where a pseudonym or a profile was seen; meaningless for a phone or a plate.
        platform = data.get("platform") if kind in ("pseudonym", "url") else None
        return IdentifierInput(kind, value, platform)


class AggressorSchema(RequestSchema):
    description = Object(DescriptionSchema)
    vehicle = Object(VehicleSchema)
    identifiers = Items(
        Object(IdentifierSchema, allow_none=False),
        max_items=MAX_IDENTIFIERS,
        error_messages={"too_many": _l("At most %(max)d identifiers.", max=MAX_IDENTIFIERS)},
    )


class ContactSchema(RequestSchema):
    phone = IdentifierValue("phone", CONTACT_MAX)
    email = IdentifierValue("email", CONTACT_MAX)


class VictimSchema(RequestSchema):
    pseudonym = Text(SHORT_TEXT_MAX)
    contact = Object(ContactSchema)
    preferred_language = Choice(ALERT_LANGUAGES)


# Each item is asked and answered explicitly: a missing answer is not a "no".
_ANSWER = _l("This field is required: answer true or false.")


class ConsentSchema(RequestSchema):
    publish_alert = Flag(required=True, error_messages={"required": _ANSWER, "null": _ANSWER})
    follow_up = Flag(required=True, error_messages={"required": _ANSWER, "null": _ANSWER})
    share_with_partner = Flag(required=True, error_messages={"required": _ANSWER, "null": _ANSWER})
    statistics = Flag(required=True, error_messages={"required": _ANSWER, "null": _ANSWER})
    police_or_lawyer = Flag(
        metadata={
            "description": "Only if she asks: pass the aggressor's details (never hers) to the "
            "police or a lawyer. Absent means no."
        }
    )


class ReporterSchema(RequestSchema):
    relation = Choice(REPORTER_RELATIONS)


class ReportSchema(RequestSchema):
    """The report body; loads a ``ReportInput`` (channel: ``default_channel`` when absent)."""

    error_messages = {"type": _l("The body must be a JSON object.")}
    refusal = Refusal(message="The report was not accepted: correct the fields listed in errors.")

    language = LanguageTag(metadata={"description": "BCP 47 code of the narrative's language."})
    channel = Choice(CHANNELS)
    incident = Object(IncidentSchema, required=True)
    narrative = Text(NARRATIVE_MAX, required=True, multiline=True)
    aggressor = Object(AggressorSchema)
    victim = Object(VictimSchema)
    consent = Object(ConsentSchema, required=True)
    reporter = Object(ReporterSchema)

    def __init__(self, *args: Any, default_channel: str = "web", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_channel = default_channel

    @pre_load
    def _incident_fields_named(self, data: Any, **_kwargs: Any) -> Any:
        # Without an incident, each of its required fields says so at its own path.
        if isinstance(data, dict) and data.get("incident") is None:
            return {**data, "incident": {}}
        return data

    @post_load
    def _input(self, data: dict, **_kwargs: Any) -> ReportInput:
        incident, victim = data["incident"], data.get("victim") or {}
        aggressor = data.get("aggressor") or {}
        vehicle = dict(aggressor.get("vehicle") or {})
        contact = victim.get("contact") or {}
        consent = data["consent"]
        return ReportInput(
            channel=data.get("channel") or self.default_channel,
            language=data.get("language"),
            incident_date=incident["date"],
            incident_time=incident.get("time"),
            date_precision=incident.get("date_precision") or "day",
            department=incident["department"],
            city=incident.get("city"),
            work_context=incident.get("context"),
            violence_types=incident["violence_types"],
            narrative=data["narrative"],
            aggressor_description=aggressor.get("description") or {},
            vehicle={k: v for k, v in vehicle.items() if k != "plate" and v},
            identifiers=_identifiers(vehicle.get("plate"), aggressor.get("identifiers") or []),
            victim_pseudonym=victim.get("pseudonym"),
            victim_phone=contact.get("phone"),
            victim_email=contact.get("email"),
            victim_preferred_language=victim.get("preferred_language"),
            reporter_relation=(data.get("reporter") or {}).get("relation"),
            **{f"consent_{item}": consent[item] for item in CONSENT_ITEMS},
            consent_police_or_lawyer=bool(consent.get("police_or_lawyer")),
        )


def _identifiers(plate: str | None, items: list[IdentifierInput]) -> list[IdentifierInput]:
    """The plate first, then the listed identifiers; the same kind and value kept once."""
    found: list[IdentifierInput] = [IdentifierInput("plate", plate)] if plate else []
    for item in items:
        if all((i.kind, i.value) != (item.kind, item.value) for i in found):
            found.append(item)
    return found


class IdempotencyHeadersSchema(ParametersSchema):
    """``Idempotency-Key``: the same key from the same client within 24 hours returns the
    first answer and creates nothing."""

    refusal = Refusal(
        400,
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 64 printable ASCII characters, without spaces.",
    )

    key = Token(
        IDEMPOTENCY_KEY_MAX,
        data_key="Idempotency-Key",
        error_messages={"invalid": "1 to 64 printable ASCII characters, without spaces."},
        metadata={
            "description": (
                "The same key from the same client within 24 hours returns the first answer "
                "(201 and the same reference) and creates nothing. The same key with another "
                "body is refused (422, idempotency_key_reused). Only accepted reports are "
                "remembered."
            )
        },
    )


class ReportAcceptedSchema(AnswerSchema):
    reference = fields.String(required=True, metadata={"pattern": r"^J-\d{4}-\d{6}$"})
    status = fields.String(required=True, metadata={"enum": ["received"]})
    follow_up_code = fields.String(
        metadata={
            "pattern": r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$",
            "description": "Shown once (absent from a replayed answer): with the reference, "
            "it lets her follow her report.",
        }
    )
