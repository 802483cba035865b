"""``GET /api/v1/alerts`` and ``POST /api/v1/check`` (shared/API.md).

Both sit on the public API blueprint, with its bearer keys, JSON errors and per-client rate
limit; their query, bodies and answers are declared in ``schemas/alerts.py``. The check has a
fair limit instead of the general one (``_fair_check``), counted before the body is read: it
is a lookup, and one caller trying every phone number should be slowed down without denying
the check to every other worker. The checked
value is never logged nor stored, and never echoed in an error message; only its kind and
whether it matched are counted.
"""

from __future__ import annotations

from flask import g, request

from backoffice.schemas.alerts import (
    AlertFeedSchema,
    AlertsQuerySchema,
    CheckAnswerSchema,
    CheckRequestSchema,
)
from backoffice.schemas.workers import WorkerHeadersSchema
from backoffice.services import alerts
from backoffice.services.identifiers import InvalidIdentifier
from backoffice.views.api import Answer, ApiError, api_operation, enforce_limit
from backoffice.views.api_workers import worker_from_headers

# English messages per normaliser reason: the normaliser's own message may not be shown
# as is for every reason, and none of them ever contains the value.
_CHECK_MESSAGES = {
    "empty": "Give the identifier to check.",
    "too_long": "This identifier is too long.",
    "too_short": "This identifier is too short.",
}


def _fair_check(client) -> None:
    """Issue 12, F7: one abuser never denies the check to everyone. With a worker token, the
    check counts against that worker alone (``API_CHECK_WORKER_RATE_LIMIT``); without, against
    this client and the source address (``API_CHECK_RATE_LIMIT``; the address is the one the
    trusted proxies give, ``PROXY_FIX_HOPS``). Then against the client's overall budget
    (``API_CHECK_CLIENT_RATE_LIMIT``), large enough for thousands of workers."""
    worker = worker_from_headers()  # 401 for a token that is not hers, or revoked
    if worker is not None:
        enforce_limit(
            "api-check-worker",
            "API_CHECK_WORKER_RATE_LIMIT",
            "60 per hour",
            f"{client.id}:{worker.id}",
            "this worker",
        )
    else:
        enforce_limit(
            "api-check",
            "API_CHECK_RATE_LIMIT",
            "30 per minute",
            f"{client.id}:{request.remote_addr}",
            "this address",
        )
    enforce_limit(
        "api-check-client",
        "API_CHECK_CLIENT_RATE_LIMIT",
        "6000 per minute",
        str(client.id),
        "this client",
    )


@api_operation(
    "GET",
    "/alerts",
    summary="Published alerts",
    description=(
        "Only published, unexpired alerts, newest first, 50 per page; follow next_cursor. "
        "Retracted and expired alerts disappear from the feed at once."
    ),
    query=AlertsQuerySchema,
    answers={200: Answer(AlertFeedSchema, "A page of alerts, in the language asked for.")},
)
def list_alerts(query: dict) -> dict:
    try:
        rows, next_cursor = alerts.live_alerts(
            since=query.get("since"),
            departments=query.get("department") or [],
            cursor=query.get("cursor"),
        )
    except ValueError:  # a well-formed cursor of no use to this feed
        raise ApiError(
            422,
            "validation_failed",
            "The request was not accepted: correct the parameters in errors.",
            {"cursor": ["Use the next_cursor of a previous answer."]},
        ) from None
    language = query["lang"]
    return {
        "alerts": [alerts.feed_item(alert, language) for alert in rows],
        "next_cursor": next_cursor,
    }


@api_operation(
    "POST",
    "/check",
    summary="Check an identifier against published alerts",
    description=(
        "The value is normalised (kind guessed when absent) and looked up among the "
        "identifiers of published, unexpired alerts only. It is never stored or logged; "
        "the check is counted (kind and outcome only)."
    ),
    body=CheckRequestSchema,
    headers=WorkerHeadersSchema,
    answers={200: Answer(CheckAnswerSchema, "The normalised value and the matching alerts.")},
    guards=[_fair_check],
    own_client_limit=True,
    example={"value": "06 12 34 56 78", "kind": "phone"},
)
def check_identifier(body: dict, headers: dict) -> dict:
    try:
        result = alerts.check_identifier(
            body["value"], body.get("kind"), source="api", api_client_id=g.api_client.id
        )
    except InvalidIdentifier as invalid:
        message = _CHECK_MESSAGES.get(invalid.reason) or invalid.message
        raise ApiError(
            422,
            "validation_failed",
            "The identifier could not be read: see errors.",
            {"value": [message]},
        ) from None
    return result.to_json()
