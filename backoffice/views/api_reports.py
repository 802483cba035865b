"""``POST /api/v1/reports`` (shared/API.md): submit a report, idempotently.

The body is checked by ``ReportSchema`` (the staff form uses the same), then stored by
``intake.create_report`` in the request's transaction, which commits once, after this view.

With an ``Idempotency-Key``, the answer is remembered with the report, in the same
transaction. The remembered answer is inserted without looking first: its unique
(client, key) constraint is what detects a retry, which saves a query on every first
attempt. The insert runs in a SAVEPOINT, after the report was written (a write opens the
transaction on SQLite too, so the SAVEPOINT nests in it): when the key is taken, only the
SAVEPOINT is undone and the view answers as the first time (then the whole request rolls
back, report included), refuses another body with the same key (422), or, when the first
answer has expired, forgets it and remembers this one. On PostgreSQL a concurrent retry
waits on the unique index until the first request commits, then replays its answer.
"""

from __future__ import annotations

from flask import g
from sqlalchemy.exc import IntegrityError

from backoffice import transactions
from backoffice.extensions import db
from backoffice.schemas.reports import (
    IdempotencyHeadersSchema,
    ReportAcceptedSchema,
    ReportInput,
    ReportSchema,
)
from backoffice.services import follow_up, intake
from backoffice.views.api import Answer, ApiError, api_operation, json_body, unavailable

# API.md's example body (its dates in the past).
EXAMPLE = {
    "language": "fr",
    "channel": "web",
    "incident": {
        "date": "2026-11-20",
        "time": "22:30",
        "department": "75",
        "city": "Paris",
        "context": "indoor_home",
        "violence_types": ["condom_removal", "theft"],
    },
    "narrative": "free text, up to 10,000 characters",
    "aggressor": {
        "description": {
            "gender": "man",
            "age_range": "36-45",
            "height": "tall",
            "build": "heavy",
            "hair": "short brown",
            "distinctive_signs": "tattoo on the left forearm",
            "languages": ["fr"],
        },
        "vehicle": {"make": "Renault", "model": "Clio", "colour": "grey", "plate": "AB-123-CD"},
        "identifiers": [
            {"kind": "phone", "value": "06 12 34 56 78"},
            {"kind": "email", "value": "someone@example.org"},
            {"kind": "pseudonym", "value": "Marc75", "platform": "an ad site"},
        ],
    },
    "victim": {
        "pseudonym": "Lila",
        "contact": {"phone": "07 98 76 54 32", "email": None},
        "preferred_language": "pt",
    },
    "consent": {
        "publish_alert": True,
        "follow_up": True,
        "share_with_partner": False,
        "statistics": True,
    },
    "reporter": {"relation": "self"},
}
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "true when this is the remembered answer to an earlier request.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


@api_operation(
    "POST",
    "/reports",
    summary="Submit a report",
    body=ReportSchema,
    headers=IdempotencyHeadersSchema,
    answers={
        201: Answer(
            ReportAcceptedSchema,
            "Received; stored when this answer is sent. The reference reveals nothing.",
            headers=REPLAYED,
        )
    },
    example=EXAMPLE,
)
def submit_report(body: ReportInput, headers: dict) -> tuple:
    client, key = g.api_client, headers.get("key")
    report = intake.create_report(body, api_client=client)
    answer = {"reference": report.reference, "status": report.status}
    # Shown once: never in the remembered answer (that one is stored in clear).
    shown = answer | {"follow_up_code": follow_up.issue(report)}
    if key is None:
        return shown, 201
    fingerprint = intake.request_fingerprint(json_body())
    db.session.flush()  # the report first: its write opens the transaction the SAVEPOINT nests in
    for _attempt in range(2):
        try:
            with db.session.begin_nested():
                intake.remember_answer(client.id, key, fingerprint, 201, answer)
        except IntegrityError:
            if (replay := _replay(client.id, key, fingerprint)) is not None:
                transactions.doom()  # this request's report was a duplicate: none is kept
                return replay
            continue  # the first answer had expired and is forgotten: remember this one
        return shown, 201
    # The key was taken twice in a row: the database is in an unexpected state.
    return unavailable()


def _replay(client_id: int, key: str, fingerprint: str) -> tuple | None:
    try:
        remembered = intake.idempotent_answer(client_id, key, fingerprint)
    except intake.IdempotencyConflict:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different body. Use a new key for "
            "a new report; resend the same body to get the first answer.",
            errors={"Idempotency-Key": ["Already used with a different body."]},
        ) from None
    if remembered is None:
        return None
    status, answer = remembered
    return answer, status, {"Idempotent-Replayed": "true"}


__all__ = ["EXAMPLE", "submit_report"]
