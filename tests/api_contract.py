"""Every answer of the API, in every test, checked against the document the API serves.

``ContractClient`` is the test client class of every test application (``make_app`` in
tests/conftest.py), so a new API test gets the check without asking. For each answer under
``/api/``, ``check_exchange``:

* fetches ``/api/v1/openapi.json`` once per application, with a key of its own, and builds
  an openapi-core ``OpenAPI`` from it (which also validates the document as OpenAPI 3.1);
* validates the answer: a documented status of the operation, its documented headers
  (``Retry-After``, ``WWW-Authenticate``…), and its body against the status's schema;
* when the answer accepted the request (2xx), validates the request too: the document must
  never be stricter than the server;
* for a path or method the document does not know, checks the body is the Error shape.

A violation fails the test with openapi-core's explanation (``ContractViolation``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_schema_validator import OAS31Validator
from werkzeug.test import TestResponse

API_PREFIX = "/api/"
DOCUMENT_URL = "/api/v1/openapi.json"
_EXTENSION = "tests.api_contract"
_lock = threading.Lock()
_built: dict[str, OpenAPI] = {}


class ContractViolation(AssertionError):
    """An answer (or an accepted request) that the served OpenAPI document does not allow."""


class Contract:
    """The served document of one application, ready to validate exchanges."""

    def __init__(self, document: dict) -> None:
        self.document = document
        text = json.dumps(document, sort_keys=True)
        if text not in _built:  # building validates the document: once per distinct one
            _built[text] = OpenAPI.from_dict(document)
        self.openapi = _built[text]
        self.error_schema = OAS31Validator(document["components"]["schemas"]["Error"])


def served_document(app: Flask) -> dict:
    """``GET /api/v1/openapi.json`` as a client with its own key sees it."""
    from backoffice.extensions import db
    from backoffice.services import api_keys

    with app.app_context():
        _client, key = api_keys.create_client(f"api-contract-{uuid.uuid4().hex[:10]}")
        db.session.commit()
    plain = FlaskClient(app, app.response_class, use_cookies=False)  # no check of itself
    response = plain.get(DOCUMENT_URL, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def contract(app: Flask) -> Contract:
    with _lock:
        if _EXTENSION not in app.extensions:
            app.extensions[_EXTENSION] = Contract(served_document(app))
        return app.extensions[_EXTENSION]


def check_exchange(app: Flask, response: TestResponse) -> None:
    """Validate one API answer (and an accepted request) against the served document."""
    request = response.request
    if not request.path.startswith(API_PREFIX):
        return
    against = contract(app)
    with _body_read_again(request):
        exchange = (WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        try:
            against.openapi.validate_response(*exchange)
        except (PathNotFound, OperationNotFound):
            _check_error_shape(against, response)
            return
        except OpenAPIError as error:
            raise ContractViolation(_explain(error, response)) from error
        if 200 <= response.status_code < 300:
            try:
                against.openapi.validate_request(exchange[0])
            except OpenAPIError as error:
                raise ContractViolation(
                    f"{request.method} {request.path} was accepted ({response.status_code}) "
                    f"but the document refuses the request: {_explain(error, response)}"
                ) from error


@contextlib.contextmanager
def _body_read_again(request) -> Iterator[None]:
    """The application read the body already; openapi-core reads it again, from the start.
    Afterwards the stream is where the application left it (tests look at that)."""
    stream = request.environ.get("wsgi.input")
    if stream is None or not hasattr(stream, "seekable") or not stream.seekable():
        yield
        return
    left_at = stream.tell()
    stream.seek(0)
    try:
        yield
    finally:
        stream.seek(left_at)


def _check_error_shape(against: Contract, response: TestResponse) -> None:
    if response.status_code < 400 or response.mimetype != "application/json":
        raise ContractViolation(
            f"{response.request.method} {response.request.path} is not in the document but "
            f"answered {response.status_code} {response.mimetype}"
        )
    errors = sorted(against.error_schema.iter_errors(response.get_json()), key=str)
    if errors:
        raise ContractViolation(f"not the Error shape: {errors[0].message}")


def _explain(error: Exception, response: TestResponse) -> str:
    reasons: list[Any] = [error]
    cause = error.__cause__
    while cause is not None:
        reasons.append(cause)
        reasons.extend(getattr(cause, "schema_errors", []) or [])
        cause = cause.__cause__
    body = response.get_data(as_text=True)[:500]
    details = "; ".join(getattr(r, "message", None) or str(r) for r in reasons)
    exchange = f"{response.request.method} {response.request.path} -> {response.status_code}"
    return f"{exchange}: {details} (body: {body})"


class ContractClient(FlaskClient):
    """A test client whose every API answer is checked against the served document."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        check_exchange(self.application, response)
        return response
