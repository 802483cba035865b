"""``GET /api/v1/structures`` (shared/API.md "GET /api/v1/structures"), declared once."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from backoffice.schemas.base import AnswerSchema, ParametersSchema, Refusal
from backoffice.schemas.fields import Choice, Declared, Department, Items
from backoffice.services.public_directory import PUBLIC_SERVICES
from backoffice.services.vocabulary import ALERT_LANGUAGES, DEPARTMENTS

OFFSET_CURSOR_MAX = 100_000


class Position(Declared, fields.String):
    """``lat,lon`` in decimal degrees (WGS 84); loads a (lat, lon) pair."""

    blank_is_absent = True
    default_error_messages = {
        "invalid": "Must be latitude,longitude in decimal degrees, such as 48.86,2.35."
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[float, float]:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        parts = value.split(",")
        try:
            latitude, longitude = (float(part) for part in parts)
        except ValueError:
            raise self.make_error("invalid") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise self.make_error("invalid")
        return latitude, longitude

    def openapi(self) -> dict:
        return {"maxLength": 40, "examples": ["48.86,2.35"]}


class OffsetCursor(Declared, fields.String):
    """The ``next_cursor`` of the previous page."""

    blank_is_absent = True
    default_error_messages = {"invalid": "Use the next_cursor of a previous answer."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise self.make_error("invalid")
        if len(value) > 6 or not 0 < int(value) <= OFFSET_CURSOR_MAX:
            raise self.make_error("invalid")
        return int(value)

    def openapi(self) -> dict:
        return {"maxLength": 6}


class StructuresQuerySchema(ParametersSchema):
    refusal = Refusal(message="The request was not accepted: correct the parameters in errors.")

    department = Items(
        Department(),
        drop_none=True,
        whole=True,
        metadata={"description": "Repeatable: structures of any of these departments."},
        error_messages={"invalid": "Not a French department code (such as 75, 2A or 974)."},
    )
    service = Items(
        Choice(PUBLIC_SERVICES),
        drop_none=True,
        whole=True,
        metadata={"description": "Repeatable: structures offering any of these services."},
        error_messages={"invalid": f"Each must be one of: {', '.join(PUBLIC_SERVICES)}."},
    )
    near = Position(
        metadata={"description": "lat,lon: adds distance_km and sorts by it (nearest first)."}
    )
    lang = Choice(ALERT_LANGUAGES, load_default="fr")
    cursor = OffsetCursor(metadata={"description": "The next_cursor of the previous page."})


class PublicServiceSchema(AnswerSchema):
    code = fields.String(required=True, metadata={"enum": list(PUBLIC_SERVICES)})
    label = fields.String(required=True, metadata={"description": "In the language asked for."})


class PublicStructureSchema(AnswerSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    services = fields.List(fields.Nested(PublicServiceSchema), required=True)
    address = fields.String(required=True, allow_none=True)
    postcode = fields.String(required=True, allow_none=True)
    city = fields.String(required=True)
    department = fields.String(required=True, metadata={"enum": list(DEPARTMENTS)})
    latitude = fields.Float(required=True, allow_none=True)
    longitude = fields.Float(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    opening_hours = fields.String(
        required=True, allow_none=True, metadata={"description": "One line per day range."}
    )
    languages = fields.List(fields.String(), required=True)
    trained_on_sex_work = fields.Boolean(required=True)
    verification = fields.String(
        required=True,
        metadata={
            "enum": ["verified", "due"],
            "description": "due: last checked more than a year ago.",
        },
    )
    verified_on = fields.String(required=True, metadata={"format": "date"})
    distance_km = fields.Float(
        metadata={"description": "Present when near is given; the list is sorted by it."}
    )


class StructureFeedSchema(AnswerSchema):
    structures = fields.List(fields.Nested(PublicStructureSchema), required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Give it as cursor for the next page; null on the last."},
    )
