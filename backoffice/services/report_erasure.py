"""Erasure of one report on request (issue 13, item 2): by staff (a Moderator or the
DataProtection role, with a reason) or by the worker herself through the API
(``follow_up.erase``). Both call ``erase_report``.

Crypto-shredding: the report's data key is destroyed and its sealed columns (her contact and
testimony) cleared; her answers' keys too. What was derived from her words goes (the
assistant's proposal, the reviewed redaction's text), with the exact place and time. What the
statistics count stays (date, department, violence types, consents), so counts are unchanged.
A published alert from the report stays (it is anonymised) unless ``withdraw_alert``: then it
is retracted with the reason given.
"""

from __future__ import annotations

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.report import (
    REDACTION_SEALED_COLUMNS,
    VICTIM_SEALED_COLUMNS,
    Report,
    ReportEvent,
)
from backoffice.models.worker_access import ReportAnswer, ReportFollowUp, ReportQuestion
from backoffice.security import can
from backoffice.services import alerts, audit, confidential

REASONS = ("her_request", "legal_obligation", "recorded_in_error")


class ErasureRefused(Exception):
    """The erasure was not made (a message for the person asking)."""


def erase_by_staff(report: Report, actor, reason: str, *, withdraw_alert: bool) -> None:
    """Staff erasure with a reason code; audited without personal data (the caller commits)."""
    if not can("erase_reports", actor):
        raise PermissionError("erase_reports")
    if reason not in REASONS:
        raise ErasureRefused("reason")
    withdrawn = withdraw_alerts(report, actor, RETRACT_REASON) if withdraw_alert else []
    already = is_erased(report)
    erase_report(report)
    audit.record(
        "report_erased",
        report,
        actor=actor,
        details={"reason": reason, "alerts_withdrawn": len(withdrawn), "again": already},
    )


RETRACT_REASON = "Withdrawn on the erasure of the report it came from."


def is_erased(report: Report) -> bool:
    key = report.data_key
    return key is not None and key.destroyed_at is not None


def withdraw_alerts(report: Report, actor, reason: str) -> list[Alert]:
    """Retract every published alert made from the report."""
    withdrawn = [a for a in alerts.alerts_of_report(report) if a.status == "published"]
    for alert in withdrawn:
        alerts.retract(alert, actor, reason)
    return withdrawn


def erase_report(report: Report) -> None:
    """Shred every personal field of the report and of her answers (idempotent)."""
    # The narrative is sealed with the same key: shredding the key erases it with the rest.
    confidential.shred(report, [*VICTIM_SEALED_COLUMNS, *REDACTION_SEALED_COLUMNS])
    answers = select(ReportAnswer).where(ReportAnswer.report_id == report.id)
    for answer in db.session.scalars(answers):
        confidential.shred(answer, ["text_sealed"])
    # The moderators' questions may quote her testimony: they go with it.
    asked = select(ReportQuestion).where(ReportQuestion.report_id == report.id)
    for question in db.session.scalars(asked):
        confidential.shred(question, ["text_sealed"])
    # Questions asked before they were sealed sat in clear in the history: they go too.
    asked_in_clear = select(ReportEvent).where(
        ReportEvent.report_id == report.id,
        ReportEvent.action == "request_info",
        ReportEvent.reason.is_not(None),
    )
    for event in db.session.scalars(asked_in_clear):
        event.reason = None
    report.city = None
    report.incident_time = None
    follow_up = db.session.get(ReportFollowUp, report.id)
    if follow_up is not None and follow_up.erased_at is None:
        follow_up.erased_at = utcnow()
