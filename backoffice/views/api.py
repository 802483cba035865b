"""The public API, ``/api/v1`` (shared/API.md): bearer keys, JSON errors, idempotent intake.

Building blocks for every endpoint of the blueprint (other areas add theirs in their own
module, named ``backoffice/views/api_<area>.py``: ``register_api`` imports every such module
before registering the blueprint, since Flask refuses routes added after registration):

* ``require_api_client``: the ``Authorization: Bearer <key>`` check (401 with
  ``WWW-Authenticate: Bearer`` otherwise) and the per-client rate limit (429 with
  ``Retry-After``). Staff session cookies are never looked at: a signed-in browser without a
  key gets a 401 like anyone else. The client is ``g.api_client``.
* ``json_body()``: the request body, at most ``API_MAX_BODY_BYTES`` (64 KiB) read (413), and
  JSON (400); ``api_error(status, code, message, errors)``; ``raise ApiError(...)`` anywhere.
* ``OPENAPI`` (served at ``/api/v1/openapi.json``) and ``openapi_paths``, where each module
  documents its operations (paths relative to the ``/api/v1`` server).

The blueprint is exempt from CSRF (no cookie authenticates it) and neither reads nor writes
the staff session. Messages are English: clients show their own texts to workers.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import importlib
import json
import logging
import math
import pkgutil
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, g, request, session
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.exceptions import HTTPException

from backoffice.extensions import csrf, db
from backoffice.models.base import utcnow
from backoffice.services import api_keys, intake
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    CHANNELS,
    DEPARTMENTS,
    IDENTIFIER_KINDS,
    REPORTER_RELATIONS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
)

log = logging.getLogger(__name__)

api_blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")

IDEMPOTENCY_KEY_MAX = 64
# last_used_at is a coarse "is this client alive" signal: writing it on every request would
# make concurrent requests of one client queue on its row until each commits.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


# --- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    """Raise anywhere in an API view to answer with the JSON error of API.md."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: dict | None = None,
        headers: dict | None = None,
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers = errors or {}, headers or {}


def api_error(
    status: int,
    code: str,
    message: str,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    """``{"error": code, "message": sentence, "errors": {path: [messages]}}`` with ``status``."""
    body = {"error": code, "message": message, "errors": errors or {}}
    return json_response(body, status, headers)


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@api_blueprint.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return api_error(error.status, error.code, error.message, error.errors, error.headers)


_HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The body is larger than 64 KiB."),
    429: ("rate_limited", "Too many requests; wait and try again."),
}


@api_blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    code, message = _HTTP_CODES.get(error.code or 500, ("error", "The request failed."))
    return api_error(error.code or 500, code, message)


@api_blueprint.errorhandler(OperationalError)
def _database_busy(error: Exception) -> Response:
    db.session.rollback()
    log.warning("API request failed on the database (%s)", type(error).__name__)
    return api_error(
        503,
        "unavailable",
        "The service is busy and nothing was stored. Try again in a moment.",
        headers={"Retry-After": "5"},
    )


@api_blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    db.session.rollback()
    # The type only: an exception message may quote what the client sent.
    log.error("API request failed (%s)", type(error).__name__, exc_info=_log_trace())
    return api_error(500, "server_error", "Something went wrong on our side; nothing was stored.")


def _log_trace() -> bool:
    # Tracebacks show local variables in some handlers: only outside production.
    return current_app.config.get("BACKOFFICE_ENV") != "production"


@api_blueprint.after_request
def _stateless(response: Response) -> Response:
    # The app's hooks start a staff session on every request; an API answer must not carry
    # a session cookie (nor clear the one a staff browser holds).
    session.clear()
    session.modified = False
    return response


# --- authentication and rate limit ----------------------------------------------------------


def _unauthorised(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


def _authenticate():
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorised("Send your API key in the header 'Authorization: Bearer <key>'.")
    client = api_keys.authenticate(key.strip())
    if client is None:
        raise _unauthorised("This API key is unknown, replaced or disabled.")
    _coarse_last_used(client)
    return client


def _coarse_last_used(client) -> None:
    history = inspect(client).attrs.last_used_at.history
    previous = history.deleted[0] if history.deleted else None
    if previous is not None and utcnow() - previous < LAST_USED_PRECISION:
        set_committed_value(client, "last_used_at", previous)


def _rate_limiter(app: Flask):
    state = app.extensions.get("api_rate_limiter")
    if state is None:
        from limits import parse, strategies
        from limits.storage import storage_from_string

        storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        limit = parse(app.config.get("API_RATE_LIMIT") or "120 per minute")
        state = app.extensions["api_rate_limiter"] = (
            strategies.FixedWindowRateLimiter(storage),
            limit,
        )
    return state


def _check_rate_limit(client) -> None:
    app = current_app._get_current_object()
    if not app.config.get("RATELIMIT_ENABLED"):
        return
    limiter, limit = _rate_limiter(app)
    identity = str(client.id)
    if limiter.hit(limit, "api", identity):
        return
    reset_at = limiter.get_window_stats(limit, "api", identity).reset_time
    wait = max(1, math.ceil(reset_at - time.time()))
    raise ApiError(
        429,
        "rate_limited",
        f"Too many requests from this client; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def require_api_client(view: Callable) -> Callable:
    """Refuse the request without a valid key (401) or over the client's rate (429)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.api_client = _authenticate()
        _check_rate_limit(g.api_client)
        return view(*args, **kwargs)

    return wrapper


# --- request body ---------------------------------------------------------------------------


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body() -> object:
    """The parsed JSON body (any JSON value); ApiError 413 or 400 otherwise."""
    if "api_json" in g:
        return g.api_json
    limit = current_app.config.get("API_MAX_BODY_BYTES", 64 * 1024)
    too_large = ApiError(413, "payload_too_large", f"The body is larger than {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = request.stream.read(limit + 1)  # never more, whatever the headers say
    if len(raw) > limit:
        raise too_large
    try:
        g.api_json = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON (UTF-8).") from None
    return g.api_json


def json_object() -> dict:
    """The body, which must be a JSON object (400 otherwise)."""
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "not_an_object", "The body must be a JSON object.")
    return body


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not all(33 <= ord(c) <= 126 for c in key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 64 printable ASCII characters, without spaces.",
            errors={"Idempotency-Key": ["1 to 64 printable ASCII characters, without spaces."]},
        )
    return key


# --- POST /api/v1/reports -------------------------------------------------------------------


@api_blueprint.post("/reports")
@require_api_client
def submit_report() -> Response:
    key = _idempotency_key()
    payload = json_object()
    client = g.api_client
    fingerprint = intake.request_fingerprint(payload) if key else ""
    for _attempt in range(2):
        try:
            body = _store_report(payload, client, key, fingerprint)
        except IntegrityError:
            db.session.rollback()
            if not key:
                raise
            # The key is taken: a retry (answer as the first time), another body (422), or
            # an expired answer, deleted by _replay, after which the report is stored anew.
            if (replay := _replay(client.id, key, fingerprint)) is not None:
                return replay
            db.session.commit()
            continue
        return json_response(body, 201)
    # Two key collisions in a row: the database is in an unexpected state; nothing is stored.
    raise ApiError(
        503,
        "unavailable",
        "The service is busy and nothing was stored. Try again in a moment.",
        headers={"Retry-After": "5"},
    )


def _store_report(payload: dict, client, key: str | None, fingerprint: str) -> dict:
    """Store the report and, with a key, its answer; one commit, before the 201.

    The idempotency record is inserted without looking first: its unique (client, key)
    constraint is what detects a retry, which saves a query on every first attempt.
    """
    try:
        report = intake.submit_report(payload, default_channel="web", api_client=client)
    except intake.ValidationFailed as failed:
        db.session.rollback()
        raise ApiError(
            422,
            "validation_failed",
            "The report was not accepted: correct the fields listed in errors.",
            failed.in_english(),
        ) from None
    body = {"reference": report.reference, "status": report.status}
    if key:
        intake.remember_answer(client.id, key, fingerprint, 201, body)
    db.session.commit()
    return body


def _replay(client_id: int, key: str, fingerprint: str) -> Response | None:
    try:
        answer = intake.idempotent_answer(client_id, key, fingerprint)
    except intake.IdempotencyConflict:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different body. Use a new key for "
            "a new report; resend the same body to get the first answer.",
            errors={"Idempotency-Key": ["Already used with a different body."]},
        ) from None
    if answer is None:
        return None
    status, body = answer
    return json_response(body, status, {"Idempotent-Replayed": "true"})


# --- GET /api/v1/openapi.json ---------------------------------------------------------------


@api_blueprint.get("/openapi.json")
@require_api_client
def openapi_document() -> Response:
    return json_response(openapi_description())


def openapi_description() -> dict:
    document = copy.deepcopy(OPENAPI)
    document["servers"] = [{"url": "/api/v1"}]
    return document


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _text(max_length: int, **extra) -> dict:
    return {"type": ["string", "null"], "maxLength": max_length, **extra}


def _enum(values, nullable: bool = True) -> dict:
    return {"type": ["string", "null"] if nullable else "string", "enum": list(values)}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    return schema


_REPORT_SCHEMA = _object(
    {
        "language": _text(35, description="BCP 47 code of the narrative's language."),
        "channel": _enum(CHANNELS),
        "incident": _object(
            {
                "date": {"type": "string", "format": "date"},
                "time": _text(8, pattern=r"^\d{2}:\d{2}(:\d{2})?$"),
                "date_precision": _enum(intake.DATE_PRECISIONS),
                "department": {"type": "string", "enum": list(DEPARTMENTS)},
                "city": _text(120),
                "context": _enum(WORK_CONTEXTS),
                "violence_types": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "enum": list(VIOLENCE_TYPES)},
                },
            },
            ["date", "department", "violence_types"],
        ),
        "narrative": {"type": "string", "minLength": 1, "maxLength": intake.NARRATIVE_MAX},
        "aggressor": _object(
            {
                "description": _object(
                    {
                        "gender": _text(40, examples=list(intake.GENDERS)),
                        "age_range": _text(40, examples=list(intake.AGE_RANGES)),
                        "height": _text(40, examples=list(intake.HEIGHTS)),
                        "build": _text(40, examples=list(intake.BUILDS)),
                        "hair": _text(intake.SHORT_TEXT_MAX),
                        "distinctive_signs": _text(500),
                        "languages": {"type": "array", "maxItems": 10, "items": _text(35)},
                    }
                ),
                "vehicle": _object(
                    {
                        "make": _text(60),
                        "model": _text(60),
                        "colour": _text(60),
                        "plate": _text(
                            intake.IDENTIFIER_VALUE_MAX,
                            description="Also stored as an identifier of kind plate.",
                        ),
                    }
                ),
                "identifiers": {
                    "type": "array",
                    "maxItems": intake.MAX_IDENTIFIERS,
                    "items": _object(
                        {
                            "kind": {"type": "string", "enum": list(IDENTIFIER_KINDS)},
                            "value": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": intake.IDENTIFIER_VALUE_MAX,
                            },
                            "platform": _text(intake.PLATFORM_MAX),
                        },
                        ["kind", "value"],
                    ),
                },
            }
        ),
        "victim": _object(
            {
                "pseudonym": _text(intake.SHORT_TEXT_MAX),
                "contact": _object({"phone": _text(320), "email": _text(320)}),
                "preferred_language": _enum(ALERT_LANGUAGES),
            }
        ),
        "consent": _object(
            {
                "publish_alert": {"type": "boolean"},
                "follow_up": {"type": "boolean"},
                "share_with_partner": {"type": "boolean"},
                "statistics": {"type": "boolean"},
                "police_or_lawyer": {
                    "type": "boolean",
                    "description": "Only if she asks: pass the aggressor's details (never "
                    "hers) to the police or a lawyer. Absent means no.",
                },
            },
            list(intake.CONSENT_ITEMS),
        ),
        "reporter": _object({"relation": _enum(REPORTER_RELATIONS)}),
    },
    ["incident", "narrative", "consent"],
)

OPENAPI: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "Jasmine back office public API",
        "version": "1.0.0",
        "description": (
            "Every call carries `Authorization: Bearer <key>`. Errors are JSON objects "
            "`{error, message, errors}`; `errors` maps field paths such as `incident.date` or "
            "`aggressor.identifiers[1].value` to lists of messages (422). Unknown fields are "
            'refused with 422 "Unknown field." at every level (additionalProperties: false): '
            "a misspelt optional field would otherwise be dropped without anyone noticing. "
            "Bodies over 64 KiB get 413, bodies that are not JSON 400, missing or disabled keys "
            "401, and a client over its rate 429 with Retry-After."
        ),
    },
    "paths": {
        "/reports": {
            "post": {
                "summary": "Submit a report",
                "operationId": "submitReport",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                        "description": (
                            "The same key from the same client within 24 hours returns the "
                            "first answer (201 and the same reference) and creates nothing. "
                            "The same key with another body is refused (422, "
                            "idempotency_key_reused). Only accepted reports are remembered."
                        ),
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "Stored (committed) before this answer.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ReportAccepted"}
                            }
                        },
                    },
                    "400": _error_response("Not JSON, not an object, or a bad Idempotency-Key."),
                    "401": _error_response("No key, unknown key or disabled client."),
                    "413": _error_response("Body over 64 KiB."),
                    "422": _error_response("Validation failed; see errors."),
                    "429": _error_response("Rate limit reached; see Retry-After."),
                    "503": _error_response(
                        "Busy; nothing was stored. Send the same request again (same key)."
                    ),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "operationId": "openapi",
                "responses": {
                    "200": {"description": "The OpenAPI document."},
                    "401": _error_response("No key, unknown key or disabled client."),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message", "errors"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "errors": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
            "Report": _REPORT_SCHEMA,
            "ReportAccepted": {
                "type": "object",
                "required": ["reference", "status"],
                "properties": {
                    "reference": {"type": "string", "pattern": r"^J-\d{4}-\d{6}$"},
                    "status": {"type": "string", "enum": ["received"]},
                },
            },
        },
    },
    "security": [{"bearer": []}],
}
openapi_paths: dict = OPENAPI["paths"]


# --- registration ---------------------------------------------------------------------------


def register_api(app: Flask | None = None) -> None:
    """Import every ``backoffice.views.api_*`` module (their routes), then register."""
    import backoffice.views as views_package

    app = app or current_app._get_current_object()

    for module in pkgutil.iter_modules(views_package.__path__):
        if module.name.startswith("api_"):
            importlib.import_module(f"backoffice.views.{module.name}")
    app.register_blueprint(api_blueprint)
    csrf.exempt(api_blueprint)
    # FAB's limiter guards the login form; the API has its own per-client limit.
    fab_limiter = getattr(app.appbuilder.sm, "limiter", None)
    if fab_limiter is not None:
        fab_limiter.exempt(api_blueprint)


__all__ = [
    "OPENAPI",
    "ApiError",
    "api_blueprint",
    "api_error",
    "json_body",
    "json_object",
    "json_response",
    "openapi_paths",
    "register_api",
    "require_api_client",
]
