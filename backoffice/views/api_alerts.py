"""``GET /api/v1/alerts`` and ``POST /api/v1/check`` (shared/API.md).

Both sit on the public API blueprint, with its bearer keys, JSON errors and per-client rate
limit. The check has a second, tighter limit per client (``API_CHECK_RATE_LIMIT``): it is a
lookup, and a client trying every phone number should be slowed down. The checked value is
never logged nor stored, and never echoed in an error message; only its kind and whether it
matched are counted.
"""

from __future__ import annotations

import datetime as dt
import math
import time

from flask import Response, current_app, g, request

from backoffice.extensions import db
from backoffice.services import alerts
from backoffice.services.identifiers import KINDS, InvalidIdentifier
from backoffice.services.vocabulary import ALERT_LANGUAGES, DEPARTMENTS
from backoffice.views.api import (
    ApiError,
    api_blueprint,
    json_object,
    json_response,
    openapi_paths,
    require_api_client,
)

CHECK_FIELDS = frozenset({"value", "kind"})

# English messages per normaliser reason: the normaliser's own message may not be shown
# as is for every reason, and none of them ever contains the value.
_CHECK_MESSAGES = {
    "empty": "Give the identifier to check.",
    "too_long": "This identifier is too long.",
    "too_short": "This identifier is too short.",
}


# --- GET /api/v1/alerts ------------------------------------------------------------------------


def _since() -> dt.datetime | None:
    raw = request.args.get("since")
    if raw is None or raw == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422,
            "validation_failed",
            "since must be an ISO 8601 date or date-time.",
            {"since": ["Must be an ISO 8601 date or date-time, such as 2026-11-21T09:12:00Z."]},
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _departments() -> list[str]:
    values = [d.strip().upper() for d in request.args.getlist("department") if d.strip()]
    unknown = [d for d in values if d not in DEPARTMENTS]
    if unknown:
        raise ApiError(
            422,
            "validation_failed",
            "department must be a French department code.",
            {"department": ["Not a French department code (such as 75, 2A or 974)."]},
        )
    return values


def _language() -> str:
    language = request.args.get("lang") or "fr"
    if language not in ALERT_LANGUAGES:
        raise ApiError(
            422,
            "validation_failed",
            "lang must be one of the alert languages.",
            {"lang": [f"Must be one of: {', '.join(ALERT_LANGUAGES)}."]},
        )
    return language


@api_blueprint.get("/alerts")
@require_api_client
def list_alerts() -> Response:
    since, departments, language = _since(), _departments(), _language()
    try:
        rows, next_cursor = alerts.live_alerts(
            since=since, departments=departments, cursor=request.args.get("cursor") or None
        )
    except ValueError:
        raise ApiError(
            422,
            "validation_failed",
            "cursor is not valid: use the next_cursor of a previous answer.",
            {"cursor": ["Use the next_cursor of a previous answer."]},
        ) from None
    body = {
        "alerts": [alerts.feed_item(alert, language) for alert in rows],
        "next_cursor": next_cursor,
    }
    return json_response(body)


# --- POST /api/v1/check ------------------------------------------------------------------------


def _check_limiter():
    app = current_app._get_current_object()
    state = app.extensions.get("api_check_rate_limiter")
    if state is None:
        from limits import parse, strategies
        from limits.storage import storage_from_string

        storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        limit = parse(app.config.get("API_CHECK_RATE_LIMIT") or "30 per minute")
        state = app.extensions["api_check_rate_limiter"] = (
            strategies.FixedWindowRateLimiter(storage),
            limit,
        )
    return state


def _check_rate(client) -> None:
    if not current_app.config.get("RATELIMIT_ENABLED"):
        return
    limiter, limit = _check_limiter()
    if limiter.hit(limit, "api-check", str(client.id)):
        return
    reset_at = limiter.get_window_stats(limit, "api-check", str(client.id)).reset_time
    wait = max(1, math.ceil(reset_at - time.time()))
    raise ApiError(
        429,
        "rate_limited",
        f"Too many checks from this client; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def _check_input(body: dict) -> tuple[object, str | None]:
    errors: dict[str, list[str]] = {}
    for key in body:
        if key not in CHECK_FIELDS:
            errors[str(key)] = ["Unknown field."]
    value, kind = body.get("value"), body.get("kind")
    if value is None or (isinstance(value, str) and not value.strip()):
        errors["value"] = ["This field is required."]
    elif not isinstance(value, str):
        errors["value"] = ["Must be text."]
    if kind is not None and kind not in KINDS:
        errors["kind"] = [f"Must be one of: {', '.join(KINDS)}."]
    if errors:
        raise ApiError(422, "validation_failed", "The check was not made: see errors.", errors)
    return value, kind


@api_blueprint.post("/check")
@require_api_client
def check_identifier() -> Response:
    client = g.api_client
    _check_rate(client)
    value, kind = _check_input(json_object())
    try:
        result = alerts.check_identifier(value, kind, source="api", api_client_id=client.id)
    except InvalidIdentifier as invalid:
        db.session.rollback()
        message = _CHECK_MESSAGES.get(invalid.reason) or invalid.message
        raise ApiError(
            422,
            "validation_failed",
            "The identifier could not be read: see errors.",
            {"value": [message]},
        ) from None
    db.session.commit()
    return json_response(result.to_json())


# --- OpenAPI ---------------------------------------------------------------------------------


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_COMMON_ERRORS = {
    "401": _error("No key, unknown key or disabled client."),
    "422": _error("Validation failed; see errors."),
    "429": _error("Rate limit reached; see Retry-After."),
}

_ALERT_SCHEMA = {
    "type": "object",
    "required": [
        "reference",
        "published_at",
        "departments",
        "violence_types",
        "language",
        "title",
        "text",
        "aggressor",
        "reports_count",
    ],
    "properties": {
        "reference": {"type": "string", "pattern": r"^A-\d{4}-\d{6}$"},
        "published_at": {"type": "string", "format": "date-time"},
        "departments": {"type": "array", "items": {"type": "string"}},
        "violence_types": {"type": "array", "items": {"type": "string"}},
        "language": {"type": "string", "enum": list(ALERT_LANGUAGES)},
        "title": {"type": "string"},
        "text": {"type": "string"},
        "aggressor": {
            "type": "object",
            "properties": {
                "description": {"type": "object"},
                "vehicle": {"type": "object"},
                "identifiers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind", "display"],
                        "properties": {
                            "kind": {"type": "string", "enum": list(KINDS)},
                            "display": {"type": "string"},
                        },
                    },
                },
            },
        },
        "reports_count": {"type": "integer", "minimum": 1},
    },
}

openapi_paths["/alerts"] = {
    "get": {
        "summary": "Published alerts",
        "description": (
            "Only published, unexpired alerts, newest first, 50 per page; follow next_cursor. "
            "Retracted and expired alerts disappear from the feed at once."
        ),
        "operationId": "listAlerts",
        "parameters": [
            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {
                "name": "department",
                "in": "query",
                "style": "form",
                "explode": True,
                "schema": {"type": "array", "items": {"type": "string", "enum": list(DEPARTMENTS)}},
            },
            {
                "name": "lang",
                "in": "query",
                "schema": {"type": "string", "enum": list(ALERT_LANGUAGES), "default": "fr"},
            },
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "A page of alerts.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["alerts", "next_cursor"],
                            "properties": {
                                "alerts": {"type": "array", "items": _ALERT_SCHEMA},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        }
                    }
                },
            },
            **_COMMON_ERRORS,
        },
    }
}

openapi_paths["/check"] = {
    "post": {
        "summary": "Check an identifier against published alerts",
        "description": (
            "The value is normalised (kind guessed when absent) and looked up among the "
            "identifiers of published, unexpired alerts only. It is never stored or logged; "
            "the check is counted (kind and outcome only)."
        ),
        "operationId": "checkIdentifier",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["value"],
                        "properties": {
                            "value": {"type": "string", "minLength": 1, "maxLength": 500},
                            "kind": {"type": "string", "enum": list(KINDS)},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "The normalised value and the matching alerts (maybe none).",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["kind", "normalised", "matches"],
                            "properties": {
                                "kind": {"type": "string", "enum": list(KINDS)},
                                "normalised": {"type": "string"},
                                "matches": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": [
                                            "alert",
                                            "published_at",
                                            "violence_types",
                                            "reports_count",
                                        ],
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "published_at": {
                                                "type": "string",
                                                "format": "date-time",
                                            },
                                            "violence_types": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                            "reports_count": {"type": "integer"},
                                        },
                                    },
                                },
                            },
                        }
                    }
                },
            },
            "400": _error("Not JSON or not an object."),
            "413": _error("Body over 64 KiB."),
            **_COMMON_ERRORS,
        },
    }
}
