"""The public API, ``/api/v1`` (shared/API.md): one declaration per operation.

Declaring an endpoint
---------------------
An area adds its endpoints in its own module, ``backoffice/views/api_<area>.py`` (``register_api``
imports every such module before registering the blueprint), and its schemas in
``backoffice/schemas/<area>.py``. One decorator per operation declares the route, what the
request may hold and what it answers; the OpenAPI document at ``/api/v1/openapi.json`` is
generated from these declarations (apispec), so it cannot drift from what the code checks::

    from backoffice.schemas.subscriptions import CodeSentSchema, SubscriptionSchema
    from backoffice.views.api import Answer, ApiError, api_operation

    @api_operation(
        "POST",
        "/subscriptions",                  # Flask rule under /api/v1 (<reference> variables too)
        summary="Register for alerts",
        body=SubscriptionSchema,           # a RequestSchema: the JSON body (400, 413, 422)
        query=None,                        # a ParametersSchema for the query string (422)
        headers=None,                      # a ParametersSchema for request headers
        answers={202: Answer(CodeSentSchema, "A code was sent.")},  # or just {202: Schema}
        errors={409: "Already verified."}, # statuses the view raises itself with ApiError
        guards=[],                         # checks given the client, before any reading
        example={"phone": "06 12 34 56 78", ...},  # a valid body: the document shows it,
    )                                      # the tests send it and fuzz every field from it
    def subscribe(body):                   # body / query / headers: loaded, normalised data
        ...
        return {"status": "code_sent", "expires_in": 600}, 202

Before the view runs, the decorator checks the bearer key (401, with ``WWW-Authenticate``) and
the client's rate (429, with ``Retry-After``), runs the operation's ``guards`` (callables
given the client: a tighter limit, a worker token), then loads headers, query and body with
their schemas. A refusal answers the schema's ``refusal`` (by default 422
``validation_failed``) with ``errors`` keyed by field path. The view returns ``data``,
``(data, status)`` or ``(data, status, headers)``; ``data`` is dumped through the schema of
``answers[status]``, so only declared fields leave. A view may also return a ``Response``.

Every operation is documented with the error answers it can give: 401, 429, 500 and 503
always; 400 and 413 with a body; each schema's refusal status; and ``errors``. The test
client checks every answer of the test suite against the served document
(tests/api_contract.py), so an undeclared status or field fails the suite; the new route
needs its line in ``API_ROUTES`` of tests/integration/test_access_matrix.py, and
tests/integration/test_api_contract.py sends hostile values to each of its documented fields
and parameters by itself. ``rate_limiter(name, setting, default)`` makes a per-client limit
guard.

Conventions: JSON bodies are objects and unknown fields are refused at every level ("Unknown
field."); unknown query parameters and headers are ignored. Views never commit: the request
commits once if it answers below 400 and rolls back otherwise (``backoffice/transactions.py``);
if that commit fails the client gets 503 with ``Retry-After`` and nothing was stored. Staff
session cookies are never looked at and never set. Messages are English: clients show their
own texts to workers.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import logging
import math
import pkgutil
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, g, request, session
from marshmallow import Schema, ValidationError, fields
from sqlalchemy import inspect
from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.exceptions import HTTPException

from backoffice.extensions import csrf
from backoffice.models.base import utcnow
from backoffice.schemas.base import ErrorSchema, ValidationFailed, error_paths
from backoffice.schemas.fields import openapi_properties, parameter_properties
from backoffice.services import api_keys
from backoffice.services.crypto import UnknownKeyError

log = logging.getLogger(__name__)
# Answered 503 with Retry-After, never 500 (API and screens alike): the database connection
# dropped or was refused, or a key this process cannot find yet (deployed later; nothing is
# erased). The request rolls back: retrying is safe.
SERVICE_UNAVAILABLE = (OperationalError, InterfaceError, PendingRollbackError, UnknownKeyError)

api_blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")

# last_used_at is a coarse "is this client alive" signal: writing it on every request would
# make concurrent requests of one client queue on its row until each commits.
LAST_USED_PRECISION = dt.timedelta(minutes=1)
BUSY_RETRY_AFTER = 5


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


_HTTP_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The body is larger than 64 KiB."),
    429: ("rate_limited", "Too many requests; wait and try again."),
    500: ("server_error", "Something went wrong on our side; nothing was stored."),
}


def http_error(status: int) -> Response:
    """The JSON answer to an HTTP error raised outside a view (unknown route, method…)."""
    code, message = _HTTP_ERRORS.get(status, _HTTP_ERRORS[500])
    return api_error(status if status in _HTTP_ERRORS else 500, code, message)


def unavailable() -> Response:
    """503: the database was busy or the commit failed; nothing was stored, retry later."""
    return api_error(
        503,
        "unavailable",
        "The service is busy and nothing was stored. Try again in a moment.",
        headers={"Retry-After": str(BUSY_RETRY_AFTER)},
    )


@api_blueprint.before_request
def _refuse_nul_in_path() -> Response | None:
    # No reference, slug or id holds a NUL, and PostgreSQL refuses one in any text it is
    # asked to compare: such an address names nothing.
    if any("\x00" in str(value) for value in (request.view_args or {}).values()):
        return http_error(404)
    return None


@api_blueprint.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return api_error(error.status, error.code, error.message, error.errors, error.headers)


@api_blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return http_error(error.code or 500)


def _database_busy(error: Exception) -> Response:
    # The request rolls back (an answer >= 400): nothing is left half-written.
    log.warning("API request failed on the database (%s)", type(error).__name__)
    return unavailable()


for _kind in SERVICE_UNAVAILABLE:
    api_blueprint.register_error_handler(_kind, _database_busy)


@api_blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    # The type only: an exception message may quote what the client sent.
    log.error("API request failed (%s)", type(error).__name__, exc_info=_log_trace())
    return http_error(500)


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


def _limiter_state(app: Flask, name: str, setting: str, default: str, limit_text: str | None):
    """(strategy, limit) of one named limit, on the shared storage
    (``RATELIMIT_STORAGE_URI``: Redis in production, so every worker process counts
    together; production refuses ``memory://``). ``limit_text`` overrides the setting (a
    client's own budget)."""
    from limits import parse, strategies
    from limits.storage import storage_from_string

    key = "api_rate_limiter"
    if key not in app.extensions:
        storage = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        app.extensions[key] = strategies.FixedWindowRateLimiter(storage)
    return app.extensions[key], parse(limit_text or app.config.get(setting) or default)


def enforce_limit(
    name: str,
    setting: str,
    default: str,
    identity: str,
    who: str,
    *,
    limit_text: str | None = None,
) -> None:
    """Count one hit of ``identity`` against the named limit; 429 with ``Retry-After`` when
    it is spent. ``who`` ends the message ("this client", "this worker"…). Nothing is
    counted while ``RATELIMIT_ENABLED`` is off (tests, development)."""
    app = current_app._get_current_object()
    if not app.config.get("RATELIMIT_ENABLED"):
        return
    limiter, limit = _limiter_state(app, name, setting, default, limit_text)
    identity = f"{app.config.get('RATELIMIT_KEY_PREFIX') or ''}{identity}"
    if limiter.hit(limit, name, identity):
        return
    reset_at = limiter.get_window_stats(limit, name, identity).reset_time
    wait = max(1, math.ceil(reset_at - time.time()))
    raise ApiError(
        429,
        "rate_limited",
        f"Too many requests from {who}; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def rate_limiter(name: str, setting: str, default: str) -> Callable[[object], None]:
    """A per-client fixed-window limit read from the ``setting`` (``"120 per minute"``).

    Returns a guard for ``api_operation(guards=…)``: it raises 429 with ``Retry-After``.
    """

    def guard(client) -> None:
        enforce_limit(name, setting, default, str(client.id), "this client")

    return guard


_client_rate = rate_limiter("api", "API_RATE_LIMIT", "120 per minute")


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


# --- declaring an operation -----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One documented answer: its schema (None: a free JSON object, or no body for 204)."""

    schema: type[Schema] | Schema | None = None
    description: str = ""
    headers: Mapping[str, dict] = field(default_factory=dict)


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Error answers of every operation, and of every operation with a body.
_ALWAYS = {
    401: (
        "No key, an unknown key or a disabled client.",
        {
            "WWW-Authenticate": {
                "description": 'Bearer realm="api".',
                "required": True,
                "schema": {"type": "string"},
            }
        },
    ),
    429: ("Rate limit reached: see Retry-After.", _RETRY_AFTER),
    500: ("Something went wrong on our side; nothing was stored.", {}),
    503: ("Busy, or the answer could not be stored: nothing was. Send it again.", _RETRY_AFTER),
}
_WITH_BODY = {
    400: "The body is not JSON, or not a JSON object.",
    413: "The body is larger than 64 KiB.",
}
_REFUSED = "Refused: errors maps each field path to its messages."
_FLASK_VARIABLE = re.compile(r"<(?:(\w+):)?(\w+)>")


def _instance(schema: type[Schema] | Schema | None) -> Schema | None:
    return schema() if isinstance(schema, type) else schema


def _answer(declared: type[Schema] | Schema | Answer | None) -> Answer:
    """An ``Answer`` whose schema is an instance, made once (schemas keep no state)."""
    answer = declared if isinstance(declared, Answer) else Answer(declared)
    return Answer(_instance(answer.schema), answer.description, answer.headers)


@dataclass
class Operation:
    """An operation as declared with ``api_operation``: its checks and its documentation."""

    method: str
    rule: str
    summary: str
    answers: dict[int, Answer]
    body: Schema | None = None
    query: Schema | None = None
    headers: Schema | None = None
    errors: dict[int, str] = field(default_factory=dict)
    description: str | None = None
    operation_id: str = ""
    guards: Sequence[Callable[[object], None]] = ()
    example: dict | None = None
    own_client_limit: bool = False  # its guards replace the general per-client limit
    body_optional: bool = False  # no body reads as {}

    @property
    def path(self) -> str:
        """The OpenAPI path: ``/reports/<reference>`` reads ``/reports/{reference}``."""
        return _FLASK_VARIABLE.sub(r"{\2}", self.rule)

    def inputs(self) -> dict[str, Any]:
        """Headers, query and body, each loaded by its schema (ApiError when refused)."""
        loaded: dict[str, Any] = {}
        if self.headers is not None:
            loaded["headers"] = _load(self.headers, _named_values(self.headers, request.headers))
        if self.query is not None:
            loaded["query"] = _load(self.query, _named_values(self.query, request.args))
        if self.body is not None:
            empty = self.body_optional and not request.content_length
            loaded["body"] = _load(self.body, {} if empty else json_object())
        return loaded

    def reply(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        status, headers = None, None
        if isinstance(result, tuple):
            result, status, *rest = result
            headers = rest[0] if rest else None
        status = status or min(self.answers)
        answer = self.answers[status]
        if status == 204:
            return current_app.response_class(status=204, headers=headers)
        body = result if answer.schema is None else answer.schema.dump(result)
        return json_response(body, status, headers)

    def refusals(self) -> dict[int, str]:
        """Every error status this operation may answer, with its description."""
        found = {status: description for status, (description, _h) in _ALWAYS.items()}
        if self.body is not None:
            found |= _WITH_BODY
        for part in (self.headers, self.query, self.body):
            if part is None:
                continue
            refusal = part.refusal
            text = f"{_REFUSED if refusal.status == 422 else refusal.message} ({refusal.code})"
            if refusal.status not in found:
                found[refusal.status] = text
            elif text not in found[refusal.status]:
                found[refusal.status] += f" Or: {text}"
        return found | self.errors

    def document(self) -> dict:
        """The OpenAPI operation (schemas still marshmallow: apispec converts them)."""
        operation: dict[str, Any] = {
            "summary": self.summary,
            "operationId": self.operation_id,
            "responses": self._responses(),
        }
        if self.description:
            operation["description"] = self.description
        parameters = [
            {"in": "path", "name": name, "required": True, "schema": _path_schema(converter)}
            for converter, name in _FLASK_VARIABLE.findall(self.rule)
        ]
        for location, schema in (("header", self.headers), ("query", self.query)):
            if schema is not None:
                parameters.append({"in": location, "schema": schema})
        if parameters:
            operation["parameters"] = parameters
        if self.body is not None:
            media: dict[str, Any] = {"schema": self.body}
            if self.example is not None:
                media["example"] = self.example
            operation["requestBody"] = {
                "required": not self.body_optional,
                "content": {"application/json": media},
            }
        return operation

    def _responses(self) -> dict:
        responses: dict[int, dict] = {}
        for status, answer in self.answers.items():
            response: dict[str, Any] = {
                "description": answer.description or HTTPStatus(status).phrase
            }
            if status != 204:
                schema = answer.schema if answer.schema is not None else {"type": "object"}
                response["content"] = {"application/json": {"schema": schema}}
            if answer.headers:
                response["headers"] = dict(answer.headers)
            responses[status] = response
        for status, description in self.refusals().items():
            response = {
                "description": description,
                "content": {"application/json": {"schema": "Error"}},
            }
            if headers := _ALWAYS.get(status, ("", {}))[1]:
                response["headers"] = dict(headers)
            responses[status] = response
        return {str(status): responses[status] for status in sorted(responses)}


def _path_schema(converter: str) -> dict:
    return {"type": "integer"} if converter == "int" else {"type": "string"}


def _named_values(schema: Schema, source) -> dict:
    """The values ``schema`` declares, read from headers or a query string (lists for Lists)."""
    values = {}
    for name, declared in schema.load_fields.items():
        key = declared.data_key or name
        if key in source:
            many = isinstance(declared, fields.List)
            values[key] = source.getlist(key) if many else source.get(key)
    return values


def _load(schema: Schema, data: object) -> Any:
    try:
        return schema.load(data)
    except ValidationError as error:
        failed = ValidationFailed(error_paths(error.messages))
        refusal = schema.refusal
        raise ApiError(refusal.status, refusal.code, refusal.message, failed.in_english()) from None


OPERATIONS: list[Operation] = []


def api_operation(
    method: str,
    rule: str,
    *,
    summary: str,
    answers: Mapping[int, type[Schema] | Schema | Answer | None],
    body: type[Schema] | Schema | None = None,
    query: type[Schema] | Schema | None = None,
    headers: type[Schema] | Schema | None = None,
    errors: Mapping[int, str] | None = None,
    description: str | None = None,
    guards: Sequence[Callable[[object], None]] = (),
    example: dict | None = None,
    own_client_limit: bool = False,
    body_optional: bool = False,
) -> Callable[[Callable], Callable]:
    """Declare, check and document one operation of the API (see the module's docstring)."""

    def decorate(view: Callable) -> Callable:
        operation = Operation(
            method=method.lower(),
            rule=rule,
            summary=summary,
            answers={status: _answer(answer) for status, answer in answers.items()},
            body=_instance(body),
            query=_instance(query),
            headers=_instance(headers),
            errors=dict(errors or {}),
            description=description,
            operation_id=_camel(view.__name__),
            guards=tuple(guards),
            example=example,
            own_client_limit=own_client_limit,
            body_optional=body_optional,
        )

        @functools.wraps(view)
        def endpoint(**url_values: Any) -> Response:
            g.api_client = _authenticate()
            general = () if operation.own_client_limit else (_client_rate,)
            for guard in (*general, *operation.guards):
                guard(g.api_client)
            return operation.reply(view(**url_values, **operation.inputs()))

        api_blueprint.add_url_rule(rule, view.__name__, endpoint, methods=[method.upper()])
        OPERATIONS.append(operation)
        endpoint.operation = operation
        return endpoint

    return decorate


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


# --- the OpenAPI document -------------------------------------------------------------------

DESCRIPTION = (
    "Every call carries `Authorization: Bearer <key>`. Errors are JSON objects "
    "`{error, message, errors}`; `errors` maps field paths such as `incident.date` or "
    "`aggressor.identifiers[1].value` to lists of messages (422). Unknown fields are "
    'refused with 422 "Unknown field." at every level (additionalProperties: false): '
    "a misspelt optional field would otherwise be dropped without anyone noticing. "
    "Bodies over 64 KiB get 413, bodies that are not JSON 400, missing or disabled keys "
    "401, and a client over its rate 429 with Retry-After. A request that fails leaves "
    "nothing behind; 503 (with Retry-After) means nothing was stored: send it again."
)


@functools.cache
def _document_json() -> str:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Jasmine back office public API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        servers=[{"url": "/api/v1"}],
        security=[{"bearer": []}],
    )
    plugin.converter.add_attribute_function(openapi_properties)
    plugin.converter.add_parameter_attribute_function(parameter_properties)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = operation.document()
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return json.dumps(spec.to_dict(), ensure_ascii=False, separators=(",", ":"))


def openapi_description() -> dict:
    """The OpenAPI 3.1 document of every declared operation (a fresh copy)."""
    return json.loads(_document_json())


@api_operation(
    "GET",
    "/openapi.json",
    summary="This description",
    answers={200: Answer(None, "The OpenAPI 3.1 document of this API.")},
)
def openapi() -> Response:
    return current_app.response_class(_document_json(), mimetype="application/json")


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
    "OPERATIONS",
    "Answer",
    "ApiError",
    "Operation",
    "api_blueprint",
    "api_error",
    "api_operation",
    "enforce_limit",
    "http_error",
    "json_body",
    "json_object",
    "json_response",
    "openapi_description",
    "rate_limiter",
    "register_api",
    "unavailable",
]
