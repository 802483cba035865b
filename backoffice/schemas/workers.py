"""The worker's endpoints (API.md, "Additions for workers"), declared once.

Contacts are normalised as intake normalises them (``IdentifierValue``); a landline cannot
receive the code. Codes and tokens are checked for shape only here; the service compares
them in constant time. Messages are English: these schemas serve the public API alone.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from backoffice.schemas.base import AnswerSchema, ParametersSchema, RequestSchema
from backoffice.schemas.fields import Choice, Declared, Department, Flag, Object, Text, Token
from backoffice.schemas.reports import IdentifierValue
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.services.worker_access import TOKEN_MAX_LENGTH, Registration

CHANNELS = ("sms", "email")
CONTACT_MAX = 254
REFERRAL_MAX = 40
ALL = "all"
_LANDLINE = phonenumbers.PhoneNumberType.FIXED_LINE


class Departments(Declared, fields.List):
    """One or more department codes, or ``["all"]``; loads (codes, all of France)."""

    default_error_messages = {
        "invalid": 'Must be a list of French department codes, or ["all"].',
        "empty": 'Choose at least one department, or ["all"].',
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Department(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any):
        if not isinstance(value, list) or len(value) > 120:
            raise self.make_error("invalid")
        if value == [ALL]:
            return [], True
        if not value:
            raise self.make_error("empty")
        codes = super()._deserialize(value, attr, data, **kwargs)
        return list(dict.fromkeys(codes)), False

    def openapi(self) -> dict:
        return {
            "minItems": 1,
            "maxItems": 120,
            "description": 'French department codes, or ["all"] for all of France.',
        }


class Mobile(IdentifierValue):
    """A phone number that can receive SMS (landlines refused), normalised to E.164."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any):
        phone = super()._deserialize(value, attr, data, **kwargs)
        if phone and phonenumbers.number_type(phonenumbers.parse(phone, None)) == _LANDLINE:
            raise ValidationError(["This number is a landline: it cannot receive SMS."])
        return phone


class ConsentAlertsSchema(RequestSchema):
    alerts = Flag(required=True)


class SubscriptionSchema(RequestSchema):
    """``POST /subscriptions``; loads a ``Registration``."""

    phone = Mobile("phone", CONTACT_MAX)
    email = IdentifierValue("email", CONTACT_MAX)
    language = Choice(ALERT_LANGUAGES, required=True)
    departments = Departments(required=True)
    channel = Choice(CHANNELS, required=True)
    discreet = Flag(metadata={"description": "Alert SMS as a neutral line. Default: true for sms."})
    referral_code = Text(REFERRAL_MAX, metadata={"description": "A partner's referral code."})
    consent = Object(ConsentAlertsSchema, required=True)

    @validates_schema(skip_on_field_errors=True)
    def _coherent(self, data: dict, **_kwargs: Any) -> None:
        if not data["consent"]["alerts"]:
            raise ValidationError(["Alerts need her consent: true."], "consent.alerts")
        wanted = "phone" if data["channel"] == "sms" else "email"
        if not data.get(wanted):
            raise ValidationError([f"Give the {wanted} the {data['channel']} goes to."], wanted)

    @post_load
    def _registration(self, data: dict, **_kwargs: Any) -> Registration:
        codes, everywhere = data["departments"]
        discreet = data.get("discreet")
        return Registration(
            channel=data["channel"],
            phone=data.get("phone"),
            email=data.get("email"),
            language=data["language"],
            departments=codes,
            all_departments=everywhere,
            discreet=data["channel"] == "sms" if discreet is None else discreet,
            referral_code=data.get("referral_code"),
        )


class CodeSentSchema(AnswerSchema):
    status = fields.String(required=True, metadata={"enum": ["code_sent"]})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})


class VerifySchema(RequestSchema):
    phone = Mobile("phone", CONTACT_MAX)
    email = IdentifierValue("email", CONTACT_MAX)
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{6}\Z", error="Six digits."),
        metadata={"pattern": "^[0-9]{6}$"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _one_contact(self, data: dict, **_kwargs: Any) -> None:
        if bool(data.get("phone")) == bool(data.get("email")):
            raise ValidationError(["Give the phone or the email the code was sent to."], "phone")


class VerifiedSchema(AnswerSchema):
    status = fields.String(required=True, metadata={"enum": ["active"]})
    worker_token = fields.String(required=True, metadata={"pattern": "^wt_"})


class WorkerHeadersSchema(ParametersSchema):
    token = Token(
        TOKEN_MAX_LENGTH,
        data_key="X-Worker-Token",
        metadata={"description": "The worker's token, returned by verify."},
    )


class MaskedContactSchema(AnswerSchema):
    phone = fields.String(required=True, allow_none=True)
    email = fields.String(required=True, allow_none=True)


class MeSchema(AnswerSchema):
    language = fields.String(required=True, metadata={"enum": list(ALERT_LANGUAGES)})
    departments = fields.List(fields.String(), required=True)
    channel = fields.String(required=True, metadata={"enum": list(CHANNELS)})
    discreet = fields.Boolean(required=True)
    paused = fields.Boolean(required=True)
    contact = fields.Nested(MaskedContactSchema, required=True)


class MeChangesSchema(RequestSchema):
    language = Choice(ALERT_LANGUAGES)
    departments = Departments()
    channel = Choice(CHANNELS)
    discreet = Flag()
    paused = Flag()

    @post_load
    def _given(self, data: dict, **_kwargs: Any) -> dict:
        return {name: value for name, value in data.items() if value is not None}


# --- report follow-up -----------------------------------------------------------------------

FOLLOW_UP_STATUSES = ("received", "in_review", "question", "published", "closed", "erased")
ANSWER_MAX = 4000


class FollowUpHeadersSchema(ParametersSchema):
    code = Token(
        40,
        data_key="X-Follow-Up-Code",
        metadata={"description": "The follow-up code returned when the report was submitted."},
    )


class ReportStatusSchema(AnswerSchema):
    reference = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(FOLLOW_UP_STATUSES)})
    question = fields.String(required=True, allow_none=True)
    alert = fields.String(required=True, allow_none=True)


class AnswerTextSchema(RequestSchema):
    text = Text(ANSWER_MAX, multiline=True, required=True)


class AnswerTakenSchema(AnswerSchema):
    status = fields.String(required=True, metadata={"enum": ["in_review"]})


class EraseReportSchema(RequestSchema):
    withdraw_alert = Flag(metadata={"description": "Also retract an alert published from it."})


class ErasedSchema(AnswerSchema):
    status = fields.String(required=True, metadata={"enum": ["erased"]})
