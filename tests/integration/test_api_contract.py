"""The API as a whole against its served OpenAPI document.

The document is a valid OpenAPI 3.1 document, generated from the declared operations, and
it describes exactly the routes there are. Every answer of the test suite is checked against
it by the test client (tests/api_contract.py); the tests here check that this check bites,
then send hostile values to every field and parameter the document lists (generated from
it, not listed by hand) and expect no 5xx. A commit that fails at the end of an API request
answers 503 in the error shape with Retry-After, and concurrent retries with the same
Idempotency-Key create one report.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from flask import has_request_context, request
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backoffice.extensions import db
from backoffice.models.report import IdempotencyRecord, Report
from tests.api_contract import ContractViolation, check_exchange, contract
from tests.integration.test_intake_api import MINIMAL, assert_error, auth, count, new_client

DOCUMENT = "/api/v1/openapi.json"
PREFIX = "/api/v1"


@pytest.fixture(scope="module")
def api_key(app):
    return new_client(app)[1]


@pytest.fixture(scope="module")
def document(app) -> dict:
    return contract(app).document


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


# --- the document ---------------------------------------------------------------------------


def test_the_served_document_is_a_valid_openapi_3_1_document(app, api_key):
    response = app.test_client().get(DOCUMENT, headers=auth(api_key))
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)  # raises on any fault
    assert document["servers"] == [{"url": PREFIX}]


def test_the_document_describes_exactly_the_routes_of_the_api(app, document):
    routed = {
        (method, rule.rule.removeprefix(PREFIX).replace("<", "{").replace(">", "}"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api_v1.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(method, path) for method, path, _operation in _operations(document)}
    assert routed == documented
    assert {("POST", "/reports"), ("GET", "/alerts"), ("POST", "/check")} <= documented


def test_every_operation_documents_the_errors_of_the_contract(document):
    for method, path, operation in _operations(document):
        statuses = set(operation["responses"])
        assert {"401", "429", "500", "503"} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= statuses, (method, path)
            example = operation["requestBody"]["content"]["application/json"].get("example")
            assert example is not None, f"{method} {path}: give an example body"
        for status in ("429", "503"):
            assert operation["responses"][status]["headers"]["Retry-After"]["required"]


def test_the_report_schema_keeps_the_contract(document):
    schemas = document["components"]["schemas"]
    report = schemas["Report"]
    assert report["additionalProperties"] is False
    assert set(report["required"]) == {"incident", "narrative", "consent"}
    assert set(schemas["Incident"]["required"]) == {"date", "department", "violence_types"}
    assert schemas["Incident"]["properties"]["violence_types"]["minItems"] == 1
    assert set(schemas["Consent"]["required"]) == {
        "publish_alert",
        "follow_up",
        "share_with_partner",
        "statistics",
    }
    assert schemas["Identifier"]["properties"]["kind"]["enum"] == [
        "phone",
        "email",
        "plate",
        "pseudonym",
        "url",
    ]
    assert set(schemas["Error"]["required"]) == {"error", "message", "errors"}
    for name, schema in schemas.items():  # unknown fields refused everywhere in a body
        if schema.get("type") == "object" and "properties" in schema:
            assert schema["additionalProperties"] is False, name


# Examples that cannot succeed on their own: a code sent to a phone, a worker's token.
NEEDS_A_SECRET = {
    ("POST", "/subscriptions/verify"): lambda r: (
        r.status_code == 422 and list(r.json["errors"]) == ["code"]
    ),
    ("PATCH", "/me"): lambda r: r.status_code == 401,
    ("POST", "/reports/{reference}/answers"): lambda r: r.status_code == 404,
    ("DELETE", "/reports/{reference}"): lambda r: r.status_code == 404,
}


def test_the_examples_of_the_document_are_accepted(app, api_key, document):
    client = app.test_client()  # answers and accepted requests checked by the contract
    for method, path, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "example" in body:
            response = client.open(
                PREFIX + path, method=method, json=body["example"], headers=auth(api_key)
            )
            if (method, path) in NEEDS_A_SECRET:  # the body passed; the secret it lacks did not
                assert NEEDS_A_SECRET[(method, path)](response), response.get_data(as_text=True)
                continue
            assert 200 <= response.status_code < 300, response.get_data(as_text=True)


# --- the check of every answer bites --------------------------------------------------------


def test_the_contract_check_refuses_what_the_document_does_not_allow(app, api_key):
    client = app.test_client()
    answer = client.get("/api/v1/alerts", headers=auth(api_key))  # checked, and fine
    assert answer.status_code == 200
    answer.set_data(json.dumps({"alerts": [], "next_cursor": None, "debug": "leak"}))
    with pytest.raises(ContractViolation):  # a field the document does not declare
        check_exchange(app, answer)
    answer.set_data(json.dumps({"alerts": []}))
    with pytest.raises(ContractViolation):  # a required field missing
        check_exchange(app, answer)
    answer.set_data(json.dumps({"error": "teapot", "message": "No.", "errors": {}}))
    answer.status_code = 418
    with pytest.raises(ContractViolation):  # a status the operation does not document
        check_exchange(app, answer)
    answer.status_code = 503
    with pytest.raises(ContractViolation):  # 503 without Retry-After
        check_exchange(app, answer)


def test_the_contract_check_refuses_an_accepted_request_the_document_refuses(app, api_key):
    refused = app.test_client().post("/api/v1/check", json={"kind": "phone"}, headers=auth(api_key))
    assert refused.status_code == 422
    refused.status_code = 200  # as if the server had accepted a body without its value
    refused.set_data(json.dumps({"kind": "phone", "normalised": "+33612345678", "matches": []}))
    with pytest.raises(ContractViolation, match="document refuses the request"):
        check_exchange(app, refused)


def test_unknown_routes_must_answer_the_error_shape(app, api_key):
    response = app.test_client().get("/api/v1/nothing-here", headers=auth(api_key))
    assert_error(response, 404, "not_found")  # and the client checked the shape
    response.set_data(b'{"oops": true}')
    with pytest.raises(ContractViolation):
        check_exchange(app, response)


# --- hostile values, generated from the document --------------------------------------------

_HUGE = 10**30
HOSTILE_JSON: list[object] = [
    None,
    True,
    0,
    -1,
    _HUGE,
    -_HUGE,
    1e308,
    0.5,
    "",
    "   ",
    "x" * 20_000,
    "a\x00b",
    "\u202egnp.exe\u202c \u2066bidi\u2069",
    "\ud800 lone surrogate",
    "\U0001f4a5" * 200,
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "9" * 400,
    [],
    [None, 1, "x"],
    {},
    {"nested": {"deeper": [1]}},
]


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


HOSTILE_TEXT: list[str] = [
    "",
    " ",
    "x" * 5_000,
    "\x00",
    "\u202e\u2066",
    "\ud800",
    "9" * 40,
    "-1",
    "1e309",
    "NaN",
    "%",
    "[]",
    "null",
    "2026-13-45",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-14:00",
    _cursor("2026-01-01T00:00:00", _HUGE),
    _cursor("2026-01-01T00:00:00", -5),
    _cursor("2026-01-01T00:00:00+05:00", 1),
    _cursor("0001-01-01T00:00:00", 1),
    _cursor(1, 2, 3),
    base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    "////",
]
# Header values travel as Latin-1 without control characters.
HOSTILE_HEADERS = [
    value
    for value in HOSTILE_TEXT
    if value.isprintable() and value.encode("latin-1", "ignore").decode("latin-1") == value
]


def _resolve(schema: dict, document: dict) -> dict:
    """Follow ``$ref`` and a nullable ``anyOf`` to the schema with the structure."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema:
            structured = [s for s in schema["anyOf"] if "$ref" in s or "properties" in s]
            if not structured:
                return schema
            schema = structured[0]
        else:
            return schema


def _field_paths(schema: dict, document: dict, prefix: tuple = ()) -> Iterator[tuple]:
    """Every property and array item of a body schema, as a path of keys and indexes."""
    schema = _resolve(schema, document)
    if "items" in schema:
        item = (*prefix, 0)
        yield item
        yield from _field_paths(schema["items"], document, item)
    for name, sub in schema.get("properties", {}).items():
        path = (*prefix, name)
        yield path
        yield from _field_paths(sub, document, path)


def _put(body: object, path: tuple, value: object) -> object:
    """``body`` with ``value`` at ``path`` (missing containers made on the way)."""
    body = copy.deepcopy(body)
    node = body
    for key, after in itertools.pairwise(path):
        container = [] if isinstance(after, int) else {}
        if isinstance(key, int):
            while len(node) <= key:
                node.append(copy.copy(container))
            if not isinstance(node[key], type(container)):
                node[key] = container
        elif not isinstance(node.get(key), type(container)):
            node[key] = container
        node = node[key]
    last = path[-1]
    if isinstance(last, int):
        node[:1] = [value]
    else:
        node[last] = value
    return body


def _server_errors(responses: Iterator[tuple[str, object]]) -> list[str]:
    return [f"{what} -> {status}" for what, status in responses if status >= 500]


def test_hostile_values_in_every_body_field_never_cause_a_server_error(app, api_key, document):
    client = app.test_client()
    tried: list[tuple[str, int]] = []
    for method, path, operation in _operations(document):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            continue
        paths = list(_field_paths(media["schema"], document))
        assert paths, f"{method} {path}: no field found in its body schema"
        for field_path in paths:
            for value in HOSTILE_JSON:
                body = _put(media["example"], field_path, value)
                response = client.open(
                    PREFIX + path,
                    method=method,
                    data=json.dumps(body),
                    content_type="application/json",
                    headers=auth(api_key),
                )
                tried.append((f"{method} {path} {field_path}={value!r:.40}", response.status_code))
    assert len(tried) > 500
    assert not _server_errors(iter(tried))


def test_hostile_values_in_every_parameter_never_cause_a_server_error(app, api_key, document):
    client = app.test_client()
    tried: list[tuple[str, int]] = []
    for method, path, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        for parameter in operation.get("parameters", []):
            name, where = parameter["name"], parameter["in"]
            values = HOSTILE_HEADERS if where == "header" else HOSTILE_TEXT
            for value in values:
                url, headers, query = PREFIX + path, auth(api_key), ""
                if where == "query":  # as bytes on the wire, a lone surrogate too
                    query = f"{name}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}"
                elif where == "header":
                    headers[name] = value
                else:
                    raw = value.encode("utf-8", "surrogatepass")
                    url = url.replace("{" + name + "}", quote(raw, safe=""))
                response = client.open(
                    url,
                    method=method,
                    query_string=query,
                    headers=headers,
                    json=body.get("example") if body else None,
                )
                what = f"{method} {path} {where} {name}={value!r:.40}"
                tried.append((what, response.status_code))
    assert {"since", "department", "lang", "cursor", "Idempotency-Key"} <= {
        p["name"] for _m, _p, op in _operations(document) for p in op.get("parameters", [])
    }
    assert not _server_errors(iter(tried))


# --- the transaction ------------------------------------------------------------------------


def test_a_failed_commit_answers_503_with_retry_after_and_stores_nothing(app):
    client_id, key = new_client(app)
    headers = auth(key, **{"Idempotency-Key": f"commit-{uuid.uuid4().hex[:8]}"})

    def refuse(session) -> None:  # the request's own commit, not the view's SAVEPOINT
        in_request = has_request_context() and request.path == "/api/v1/reports"
        if in_request and not session.in_nested_transaction():
            raise RuntimeError("the database went away")

    event.listen(Session, "before_commit", refuse)
    try:
        response = app.test_client().post("/api/v1/reports", json=MINIMAL, headers=headers)
    finally:
        event.remove(Session, "before_commit", refuse)
    body = assert_error(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert "went away" not in json.dumps(body)
    assert count(app, Report, Report.api_client_id == client_id) == 0
    assert count(app, IdempotencyRecord, IdempotencyRecord.api_client_id == client_id) == 0
    retry = app.test_client().post("/api/v1/reports", json=MINIMAL, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(app, Report, Report.api_client_id == client_id) == 1


def test_concurrent_retries_with_the_same_key_create_one_report(app):
    client_id, key = new_client(app)
    headers = auth(key, **{"Idempotency-Key": f"race-{uuid.uuid4().hex[:8]}"})
    contract(app)  # the document is fetched before the race, not during it
    start = threading.Barrier(6)
    answers: list = []
    failures: list[BaseException] = []

    def retry() -> None:
        try:
            start.wait(timeout=30)
            answers.append(app.test_client().post("/api/v1/reports", json=MINIMAL, headers=headers))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    statuses = sorted(a.status_code for a in answers)
    # PostgreSQL: later retries wait for the first, then replay it. SQLite, with one writer
    # at a time, may answer 503 (busy, nothing stored, retry) instead of waiting.
    assert set(statuses) <= {201, 503} and 201 in statuses, statuses
    references = {a.get_json()["reference"] for a in answers if a.status_code == 201}
    assert len(references) == 1
    again = app.test_client().post("/api/v1/reports", json=MINIMAL, headers=headers)
    assert again.status_code == 201 and again.get_json()["reference"] in references
    assert again.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        stored = db.session.scalars(
            select(Report.reference).where(Report.api_client_id == client_id)
        ).all()
    assert stored == list(references)
