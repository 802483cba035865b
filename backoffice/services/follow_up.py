"""Her report, followed with its reference and its follow-up code (API.md, "Additions for
workers").

* The code (``7KQ4-M2XD-9TRA``: 12 characters of Crockford's base 32, 60 bits) is made at
  submission, shown once, and stored as a keyed HMAC bound to the reference.
* No oracle: an unknown reference, a wrong code and a locked report all answer
  ``FollowUpRefused`` (404 for the API). Wrong codes count per report: after
  ``MAX_FAILURES`` the report is locked for ``LOCK_MINUTES`` (a correct code then fails too,
  as an unknown reference would); each refusal is audited without the reference.
* Status, coarsely: received, in_review, question (the moderator's question), published (with
  the alert), closed, erased.
* Her answer is sealed (``ReportAnswer``), returns the report to review (``info_added``: a
  report event the moderators' queue shows) and is audited.
* Erasure crypto-shreds her sealed fields and answers, clears her free text, keeps what the
  statistics count; with ``withdraw_alert`` a published alert from it is retracted.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport
from backoffice.models.base import utcnow
from backoffice.models.report import Report
from backoffice.models.worker_access import ReportFollowUp
from backoffice.services import audit, confidential, questions, report_erasure

CODE_KIND = "report-follow-up"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 12
MAX_FAILURES = 5
LOCK_MINUTES = 15
STATUS_OF = {
    "received": "received",
    "in_review": "in_review",
    "approved": "in_review",
    "needs_info": "question",
    "published": "published",
    "archived": "closed",
    "rejected": "closed",
    "merged": "closed",
    "recorded": "closed",
}


class FollowUpRefused(Exception):
    """Unknown reference, wrong code or locked: the same for each."""


class NotAwaitingAnswer(Exception):
    """The report asks no question now."""


def _normalised(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def _hash(reference: str, code: str) -> str:
    return confidential.keyring().blind_index(CODE_KIND, f"{reference}:{_normalised(code)}")


def issue(report: Report) -> str:
    """A new follow-up code for ``report``, shown once."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    code = "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))
    db.session.flush()
    db.session.add(ReportFollowUp(report_id=report.id, code_hash=_hash(report.reference, code)))
    return code


def open_report(
    reference: str, code: str | None, *, now: dt.datetime | None = None
) -> tuple[Report, ReportFollowUp]:
    """The report and its follow-up, or ``FollowUpRefused`` (the try counted)."""
    now = now or utcnow()
    offered = _hash(reference, code or "")  # computed whatever is found: the same time
    row = db.session.execute(
        select(Report, ReportFollowUp)
        .join(ReportFollowUp, ReportFollowUp.report_id == Report.id)
        .where(Report.reference == reference)
    ).first()
    if row is None:
        _refused()
    report, follow_up = row
    locked = follow_up.locked_until is not None and follow_up.locked_until > now
    if locked or not code or not hmac.compare_digest(follow_up.code_hash, offered):
        if not locked:
            follow_up.failures += 1
            if follow_up.failures >= MAX_FAILURES:
                follow_up.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                follow_up.failures = 0
        _refused()
    if follow_up.failures:
        follow_up.failures = 0
    return report, follow_up


def _refused() -> None:
    audit.record("report_follow_up_refused", object_type="Report")
    raise FollowUpRefused()


def status(report: Report, follow_up: ReportFollowUp) -> dict:
    """Her report's coarse status, the moderator's question, the alert's reference."""
    coarse = "erased" if follow_up.erased_at else STATUS_OF.get(report.status, "in_review")
    question = _question(report) if coarse == "question" else None
    alert = _published_alert(report) if coarse == "published" else None
    return {"reference": report.reference, "status": coarse, "question": question, "alert": alert}


def _question(report: Report) -> str | None:
    return questions.question_text(report)  # sealed: its reading is audited


def _published_alert(report: Report) -> str | None:
    return db.session.scalar(
        select(Alert.reference)
        .join(AlertReport, AlertReport.alert_id == Alert.id)
        .where(AlertReport.report_id == report.id, Alert.status == "published")
        .limit(1)
    )


def answer(report: Report, follow_up: ReportFollowUp, text: str) -> None:
    """Her answer to the question: sealed, the report back to review, the moderators told."""
    if follow_up.erased_at or report.status != "needs_info":
        raise NotAwaitingAnswer()
    questions.record_answer(report, text, source="worker")


def erase(report: Report, follow_up: ReportFollowUp, *, withdraw_alert: bool) -> None:
    """Her report's personal fields erased (again: harmless); statistics keep their counts."""
    if withdraw_alert:
        report_erasure.withdraw_alerts(report, None, "Withdrawn by the person who reported it.")
    if follow_up.erased_at:
        return
    report_erasure.erase_report(report)
    audit.record("report_erased_by_worker", report, details={"withdraw_alert": withdraw_alert})
