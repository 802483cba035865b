"""``GET /api/v1/pages`` and ``GET /api/v1/pages/{slug}`` (shared/API.md), declared once."""

from __future__ import annotations

from marshmallow import fields

from backoffice.models.information import SHEET_TOPICS
from backoffice.schemas.base import AnswerSchema, ParametersSchema, Refusal
from backoffice.schemas.fields import Choice
from backoffice.services.vocabulary import ALERT_LANGUAGES


class PagesQuerySchema(ParametersSchema):
    refusal = Refusal(message="The request was not accepted: correct the parameters in errors.")

    lang = Choice(ALERT_LANGUAGES, load_default="fr")


class PageSummarySchema(AnswerSchema):
    slug = fields.String(required=True)
    topic = fields.String(required=True, metadata={"enum": list(SHEET_TOPICS)})
    title = fields.String(required=True)
    language = fields.String(required=True, metadata={"enum": list(ALERT_LANGUAGES)})
    fallback = fields.Boolean(
        required=True,
        metadata={"description": "true: no up-to-date version in lang, the French is given."},
    )
    review = fields.String(
        required=True,
        metadata={
            "enum": ["reviewed", "to_review"],
            "description": "to_review: not yet checked by a native speaker.",
        },
    )
    updated_at = fields.String(required=True, metadata={"format": "date-time"})


class PageListSchema(AnswerSchema):
    language = fields.String(required=True, metadata={"enum": list(ALERT_LANGUAGES)})
    pages = fields.List(fields.Nested(PageSummarySchema), required=True)


class PageSourceSchema(AnswerSchema):
    title = fields.String(required=True)
    url = fields.String(required=True, metadata={"format": "uri"})


class PageSchema(PageSummarySchema):
    body = fields.String(required=True, metadata={"description": "Markdown."})
    sources = fields.List(fields.Nested(PageSourceSchema), required=True)
