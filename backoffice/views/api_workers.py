"""The worker's endpoints (API.md, "Additions for workers"): register, verify, ``/me``.

Called with the client's bearer key like every endpoint; ``/me`` also needs the worker's own
``X-Worker-Token``. Registration answers 202 "code sent" once the body is valid, whatever
the number (``services/worker_access`` explains why and what is sent). A wrong code is
counted (the try is committed although the answer is 422) and audited without personal
data.
"""

from __future__ import annotations

from flask import request

from backoffice import transactions
from backoffice.models.subscriber import Subscriber
from backoffice.schemas.workers import (
    CodeSentSchema,
    MeChangesSchema,
    MeSchema,
    SubscriptionSchema,
    VerifiedSchema,
    VerifySchema,
    WorkerHeadersSchema,
)
from backoffice.services import worker_access
from backoffice.services.worker_access import Registration
from backoffice.views.api import Answer, ApiError, api_operation

WORKER_TOKEN_HEADER = "X-Worker-Token"  # noqa: S105 - a header name
_REFUSED_CODE = ApiError(
    422,
    "validation_failed",
    "The code was not accepted: see errors.",
    {"code": ["This code is wrong or expired: ask for a new one."]},
)


def worker_from_headers() -> Subscriber | None:
    """The worker whose token the request carries; None without one; 401 for a bad one."""
    token = request.headers.get(WORKER_TOKEN_HEADER)
    if token is None:
        return None
    subscriber = worker_access.subscriber_for_token(token.strip())
    if subscriber is None:
        raise _bad_token()
    return subscriber


def _bad_token() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "This worker token is unknown or no longer valid.",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


def _worker() -> Subscriber:
    subscriber = worker_from_headers()
    if subscriber is None:
        raise ApiError(
            401,
            "unauthorized",
            f"Send her token in the header '{WORKER_TOKEN_HEADER}'.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    return subscriber


@api_operation(
    "POST",
    "/subscriptions",
    summary="Register a worker for alerts",
    description=(
        "Sends a 6-digit code (10 minutes, 5 tries) to the phone or email, in her language. "
        "The answer is the same whether or not the number is registered: a registered number "
        "receives a message to manage its subscription instead, and nothing is created."
    ),
    body=SubscriptionSchema,
    answers={202: Answer(CodeSentSchema, "A code was sent (or a 'manage' message).")},
    example={
        "phone": "06 12 34 56 78",
        "email": None,
        "language": "ro",
        "departments": ["75", "93"],
        "channel": "sms",
        "discreet": True,
        "referral_code": None,
        "consent": {"alerts": True},
    },
)
def register_worker(body: Registration) -> tuple:
    worker_access.request_code(body)
    return {"status": "code_sent", "expires_in": worker_access.code_lifetime_seconds()}, 202


@api_operation(
    "POST",
    "/subscriptions/verify",
    summary="Confirm a registration code",
    description=(
        "Returns her worker token (shown once). A wrong or expired code: 422 with errors.code; "
        "after 5 wrong codes the registration is void (the same answer)."
    ),
    body=VerifySchema,
    answers={200: Answer(VerifiedSchema, "Her subscription is active; keep the token.")},
    example={"phone": "06 12 34 56 78", "code": "123456"},
)
def verify_registration(body: dict) -> dict:
    channel = "sms" if body.get("phone") else "email"
    contact = body.get("phone") or body.get("email")
    try:
        token = worker_access.verify(channel, contact, body["code"])
    except worker_access.CodeRefused:
        transactions.keep_on_failure()  # the try counts
        raise _REFUSED_CODE from None
    return {"status": "active", "worker_token": token}


@api_operation(
    "GET",
    "/me",
    summary="Her subscription",
    headers=WorkerHeadersSchema,
    answers={200: Answer(MeSchema, "Her choices; her contact masked.")},
)
def get_me(headers: dict) -> dict:
    return worker_access.describe(_worker())


@api_operation(
    "PATCH",
    "/me",
    summary="Change her subscription",
    headers=WorkerHeadersSchema,
    body=MeChangesSchema,
    answers={200: Answer(MeSchema, "Her choices after the change.")},
    example={"language": "ro", "departments": ["75"], "discreet": True},
)
def patch_me(headers: dict, body: dict) -> dict:
    subscriber = _worker()
    try:
        worker_access.change(subscriber, body)
    except worker_access.PreferenceRefused as refused:
        raise ApiError(
            422, "validation_failed", "The change was not made: see errors.", refused.errors
        ) from None
    return worker_access.describe(subscriber)


@api_operation(
    "DELETE",
    "/me",
    summary="Unsubscribe her and erase her contact",
    headers=WorkerHeadersSchema,
    answers={204: Answer(None, "Unsubscribed; her token no longer works.")},
)
def delete_me(headers: dict) -> tuple:
    worker_access.leave(_worker())
    return None, 204
