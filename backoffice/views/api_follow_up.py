"""Her report, followed with reference and code (API.md, "Additions for workers").

Every refusal that concerns the reference or the code is the same 404 (unknown reference,
wrong code, too many wrong codes): ``services/follow_up`` explains. A wrong code counts
although the answer is an error (``keep_on_failure``). Requests per reference are also
limited on the shared store (``API_FOLLOW_UP_RATE_LIMIT``), whether the reference exists or
not.
"""

from __future__ import annotations

from backoffice import transactions
from backoffice.schemas.workers import (
    AnswerTakenSchema,
    AnswerTextSchema,
    ErasedSchema,
    EraseReportSchema,
    FollowUpHeadersSchema,
    ReportStatusSchema,
)
from backoffice.services import follow_up
from backoffice.views.api import Answer, ApiError, api_operation, enforce_limit

_NOT_FOUND = "No report with this reference and code."
REFERENCE_MAX = 20


def _opened(reference: str, headers: dict):
    enforce_limit(
        "api-follow-up",
        "API_FOLLOW_UP_RATE_LIMIT",
        "30 per hour",
        reference[:REFERENCE_MAX],
        "this reference",
    )
    try:
        return follow_up.open_report(reference[:REFERENCE_MAX], headers.get("code"))
    except follow_up.FollowUpRefused:
        transactions.keep_on_failure()  # the wrong try counts
        raise ApiError(404, "not_found", _NOT_FOUND) from None


@api_operation(
    "GET",
    "/reports/<reference>",
    summary="Her report's status",
    headers=FollowUpHeadersSchema,
    answers={200: Answer(ReportStatusSchema, "Coarse status, a question, the alert.")},
    errors={404: "Unknown reference or wrong code (the same answer)."},
)
def report_status(reference: str, headers: dict) -> dict:
    return follow_up.status(*_opened(reference, headers))


@api_operation(
    "POST",
    "/reports/<reference>/answers",
    summary="Answer the moderator's question",
    headers=FollowUpHeadersSchema,
    body=AnswerTextSchema,
    answers={202: Answer(AnswerTakenSchema, "Taken; the report is back in review.")},
    errors={
        404: "Unknown reference or wrong code (the same answer).",
        409: "The report asks no question now.",
        # Werkzeug routes an empty reference (/reports//answers) to /reports/{reference}.
        405: "No reference given.",
    },
    example={"text": "He had a grey car; I saw the first letters of the plate: AB."},
)
def answer_question(reference: str, headers: dict, body: dict) -> tuple:
    report, row = _opened(reference, headers)
    try:
        follow_up.answer(report, row, body["text"])
    except follow_up.NotAwaitingAnswer:
        raise ApiError(409, "conflict", "This report asks no question now.") from None
    return {"status": "in_review"}, 202


@api_operation(
    "DELETE",
    "/reports/<reference>",
    summary="Erase her report",
    headers=FollowUpHeadersSchema,
    body=EraseReportSchema,
    body_optional=True,
    answers={200: Answer(ErasedSchema, "Erased (repeating it answers the same).")},
    errors={404: "Unknown reference or wrong code (the same answer)."},
    example={"withdraw_alert": True},
)
def erase_report(reference: str, headers: dict, body: dict) -> dict:
    report, row = _opened(reference, headers)
    follow_up.erase(report, row, withdraw_alert=bool(body.get("withdraw_alert")))
    return {"status": "erased"}
