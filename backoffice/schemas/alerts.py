"""``GET /api/v1/alerts`` and ``POST /api/v1/check`` (shared/API.md), declared once.

Query parameters are strings: each field reads one (``department``: every occurrence) and
refuses what the feed cannot use, so no value reaches the database that it cannot hold (a
cursor naming row 10^30, a date before year 1 once moved to UTC). Messages are English only:
these schemas serve the public API alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import fields

from backoffice.schemas.base import AnswerSchema, ParametersSchema, Refusal, RequestSchema
from backoffice.schemas.fields import Choice, Declared, Department, Items, Text
from backoffice.services.alerts import CHECK_VALUE_MAX_LENGTH, decode_cursor
from backoffice.services.identifiers import KINDS
from backoffice.services.vocabulary import ALERT_LANGUAGES, DEPARTMENTS, VIOLENCE_TYPES

CURSOR_MAX_LENGTH = 200
_LARGEST_ID = 2**63 - 1  # the largest key either database stores


class Moment(Declared, fields.String):
    """An ISO 8601 date or date-time; loads a naive UTC datetime (a date: its midnight UTC)."""

    blank_is_absent = True
    default_error_messages = {
        "invalid": "Must be an ISO 8601 date or date-time, such as 2026-11-21T09:12:00Z."
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        except (AttributeError, ValueError, OverflowError):
            raise self.make_error("invalid") from None
        return moment

    def openapi(self) -> dict:
        return self._or_blank(
            {"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}
        )


class Cursor(Declared, fields.String):
    """A ``next_cursor`` of an earlier answer, checked before it reaches the database."""

    blank_is_absent = True
    default_error_messages = {"invalid": "Use the next_cursor of a previous answer."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or len(value) > CURSOR_MAX_LENGTH:
            raise self.make_error("invalid")
        try:
            moment, identifier = decode_cursor(value)
        except ValueError:
            raise self.make_error("invalid") from None
        # Our cursors hold a naive UTC moment and a row id; anything else was not made here.
        if moment.tzinfo is not None or not 0 < identifier <= _LARGEST_ID:
            raise self.make_error("invalid")
        return value

    def openapi(self) -> dict:
        return {"maxLength": CURSOR_MAX_LENGTH}


class AlertsQuerySchema(ParametersSchema):
    refusal = Refusal(message="The request was not accepted: correct the parameters in errors.")

    since = Moment(metadata={"description": "Only alerts published at or after this moment."})
    department = Items(
        Department(),
        drop_none=True,
        whole=True,
        metadata={"description": "Repeatable: alerts concerning any of these departments."},
        error_messages={"invalid": "Not a French department code (such as 75, 2A or 974)."},
    )
    lang = Choice(ALERT_LANGUAGES, load_default="fr")
    cursor = Cursor(metadata={"description": "The next_cursor of the previous page."})


class PublicIdentifierSchema(AnswerSchema):
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    display = fields.String(required=True)


class AlertAggressorSchema(AnswerSchema):
    description = fields.Dict(required=True)
    vehicle = fields.Dict(required=True)
    identifiers = fields.List(fields.Nested(PublicIdentifierSchema), required=True)


class AlertSchema(AnswerSchema):
    reference = fields.String(required=True, metadata={"pattern": r"^A-\d{4}-\d{6}$"})
    published_at = fields.String(required=True, metadata={"format": "date-time"})
    departments = fields.List(fields.String(metadata={"enum": list(DEPARTMENTS)}), required=True)
    violence_types = fields.List(
        fields.String(metadata={"enum": list(VIOLENCE_TYPES)}), required=True
    )
    language = fields.String(required=True, metadata={"enum": list(ALERT_LANGUAGES)})
    title = fields.String(required=True)
    text = fields.String(required=True)
    aggressor = fields.Nested(AlertAggressorSchema, required=True)
    reports_count = fields.Integer(required=True, metadata={"minimum": 1})


class AlertFeedSchema(AnswerSchema):
    alerts = fields.List(fields.Nested(AlertSchema), required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Give it as cursor for the next page; null on the last."},
    )


class CheckRequestSchema(RequestSchema):
    refusal = Refusal(message="The check was not made: see errors.")

    value = Text(
        CHECK_VALUE_MAX_LENGTH,
        tidy=False,
        required=True,
        metadata={"description": "Never stored nor logged; the check itself is counted."},
    )
    kind = Choice(KINDS, metadata={"description": "Guessed from the value when absent."})


class CheckMatchSchema(AnswerSchema):
    alert = fields.String(required=True, metadata={"pattern": r"^A-\d{4}-\d{6}$"})
    published_at = fields.String(required=True, metadata={"format": "date-time"})
    violence_types = fields.List(
        fields.String(metadata={"enum": list(VIOLENCE_TYPES)}), required=True
    )
    reports_count = fields.Integer(required=True, metadata={"minimum": 1})


class CheckAnswerSchema(AnswerSchema):
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    normalised = fields.String(required=True)
    matches = fields.List(fields.Nested(CheckMatchSchema), required=True)
