"""The missing-information loop, and what partners see of the reports they filed (issue 18,
items 4 and 5).

* A moderator asks (``request_info`` in services/moderation.py): the question is a sealed
  ``ReportQuestion`` addressed to whoever can answer — the relays of the association that
  filed the report (``Report.filing_organisation_id``), otherwise the worker through the API
  follow-up (services/follow_up.py).
* A relay answers on the "Signalements déposés" page (``answer``): the answer is a sealed
  ``ReportAnswer`` naming her, the report goes back to review with the ``info_added`` event
  (whoever notifies moderators listens to it) and the step is audited.
* Without an answer after ``INFORMATION_ANSWER_DAYS`` the job ``expire_unanswered_questions``
  sends the report back to the queue with the ``no_answer`` transition (SYSTEM actor); the
  queue marks it (``unanswered_report_ids``).
* A relay sees only the reports her association filed (``filed_condition``): their status in
  words, the alert's reference once published, the case's reference when routed to her
  association — nothing else of them, and nothing of reports it did not file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, false, func, select
from sqlalchemy.orm import aliased

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport
from backoffice.models.base import utcnow
from backoffice.models.case import Case
from backoffice.models.report import Report, ReportEvent
from backoffice.models.subscriber import Subscriber
from backoffice.models.worker_access import ReportAnswer, ReportQuestion
from backoffice.security import OutOfScope, can, organisation_of, scoped
from backoffice.services import audit, moderation
from backoffice.services.paging import Page, paginate

ANSWER = moderation.ANSWER_FILED  # the capability of the relays who answer
ANSWER_MAX_LENGTH = 4000
DEFAULT_ANSWER_DAYS = 7

# A report's status as its filing partner reads it: words, not codes.
PARTNER_STATUSES: dict[str, object] = {
    "received": _l("Received, waiting for a moderator"),
    "in_review": _l("Being reviewed"),
    "approved": _l("Being reviewed"),
    "needs_info": _l("A question for you"),
    "published": _l("Alert published"),
    "archived": _l("Alert ended"),
    "rejected": _l("Not kept for an alert"),
    "merged": _l("Joined to another report about the same aggressor"),
    "recorded": _l("Recorded, without an alert"),
}


class AnswerRefused(Exception):
    """A refused answer; ``message`` is a sentence for the relay (nothing was changed)."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def answer_days() -> int:
    if has_app_context():
        return int(current_app.config.get("INFORMATION_ANSWER_DAYS", DEFAULT_ANSWER_DAYS))
    return DEFAULT_ANSWER_DAYS


# --- questions -------------------------------------------------------------------------------


def open_question(report: Report) -> ReportQuestion | None:
    """The question the report waits on (its latest, while it is ``needs_info``)."""
    if report.status != "needs_info":
        return None
    return db.session.scalar(
        select(ReportQuestion)
        .where(ReportQuestion.report_id == report.id)
        .order_by(ReportQuestion.asked_at.desc(), ReportQuestion.id.desc())
        .limit(1)
    )


def question_text(report: Report) -> str | None:
    """The open question's words (a sealed read, audited); a question asked before questions
    were sealed is still read from the report's history."""
    question = open_question(report)
    if question is not None:
        return question.text
    if report.status != "needs_info":
        return None
    return db.session.scalar(
        select(ReportEvent.reason)
        .where(ReportEvent.report_id == report.id, ReportEvent.action == "request_info")
        .order_by(ReportEvent.occurred_at.desc(), ReportEvent.id.desc())
        .limit(1)
    )


def record_answer(report: Report, text: str, actor=None, *, source: str) -> ReportAnswer:
    """Seal an answer to the open question, and send the report back to review."""
    question = open_question(report)
    row = ReportAnswer(
        report_id=report.id,
        question_id=getattr(question, "id", None),
        answered_by_id=getattr(actor, "id", None),
    )
    row.text = text
    db.session.add(row)
    if question is not None:
        question.answered_at = utcnow()
    moderation.perform(report, "info_added", actor, details={"source": source})
    audit.record("report_answer_received", report, details={"characters": len(text)})
    return row


def answer(report: Report, actor, text: str | None, *, expected_version: int | None = None):
    """A relay's answer to the question about a report her association filed."""
    if not can(ANSWER, actor) or not _filed_by_actor(report, actor):
        raise OutOfScope("Report")
    text = (text or "").strip()
    if report.status != "needs_info":
        raise AnswerRefused(_l("This report no longer waits for an answer."))
    if expected_version is not None and report.version_id != int(expected_version):
        raise AnswerRefused(
            _l("The report changed while you were writing: reload the page; nothing was saved.")
        )
    if not text:
        raise AnswerRefused(_l("Write your answer before sending it."))
    if len(text) > ANSWER_MAX_LENGTH:
        raise AnswerRefused(
            _l("This text is too long (at most %(n)d characters).", n=ANSWER_MAX_LENGTH)
        )
    try:
        return record_answer(report, text, actor, source="partner")
    except moderation.ModerationError as error:
        raise AnswerRefused(error.message) from None


def answers(report: Report) -> list[tuple[ReportQuestion, list[ReportAnswer]]]:
    """Every question about the report and its answers, oldest first (for moderators)."""
    questions = db.session.scalars(
        select(ReportQuestion)
        .where(ReportQuestion.report_id == report.id)
        .order_by(ReportQuestion.asked_at, ReportQuestion.id)
    ).all()
    rows = db.session.scalars(
        select(ReportAnswer)
        .where(ReportAnswer.report_id == report.id)
        .order_by(ReportAnswer.created_at, ReportAnswer.id)
    ).all()
    by_question: dict[int | None, list[ReportAnswer]] = {}
    for row in rows:
        by_question.setdefault(row.question_id, []).append(row)
    return [(question, by_question.get(question.id, [])) for question in questions]


def expire_unanswered(now: dt.datetime | None = None) -> int:
    """The job: reports whose question waited ``INFORMATION_ANSWER_DAYS`` go back to the
    queue, marked "no answer". Returns how many."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=answer_days())
    latest = aliased(ReportQuestion)
    due = db.session.scalars(
        select(ReportQuestion)
        .join(Report, Report.id == ReportQuestion.report_id)
        .where(
            Report.status == "needs_info",
            ReportQuestion.answered_at.is_(None),
            ReportQuestion.unanswered_at.is_(None),
            ReportQuestion.asked_at <= cutoff,
            ~exists().where(
                latest.report_id == ReportQuestion.report_id, latest.id > ReportQuestion.id
            ),
        )
        .order_by(ReportQuestion.asked_at)
    ).all()
    for question in due:
        report = db.session.get(Report, question.report_id)
        question.unanswered_at = now
        moderation.perform(report, "no_answer", None, details={"days": answer_days()}, now=now)
    return len(due)


def seal_legacy_questions() -> int:
    """Questions asked before they were sealed sat in clear in the report's history: each
    becomes a sealed ``ReportQuestion`` (same author and time) and leaves the history."""
    legacy = db.session.scalars(
        select(ReportEvent)
        .join(Report, Report.id == ReportEvent.report_id)
        .where(ReportEvent.action == "request_info", ReportEvent.reason.is_not(None))
        .order_by(ReportEvent.id)
    ).all()
    for event in legacy:
        report = event.report
        if report.data_key is not None and report.data_key.destroyed_at is not None:
            event.reason = None  # erased: her words are not sealed again under a live key
            continue
        question = ReportQuestion(
            report_id=report.id,
            addressee="partner" if report.filing_organisation_id is not None else "worker",
            asked_by_id=event.actor_id,
            asked_at=event.occurred_at,
        )
        question.text = event.reason
        db.session.add(question)
        db.session.flush()
        event.reason = None
        event.details = {**(event.details or {}), "question": question.id}
    if legacy:
        audit.record(
            "legacy_questions_sealed", object_type="Report", details={"count": len(legacy)}
        )
    return len(legacy)


def expire_unanswered_job() -> None:
    seal_legacy_questions()
    expire_unanswered()


def unanswered_report_ids(report_ids: list[int]) -> set[int]:
    """Among these reports, those back in the queue because their question had no answer
    (their latest question was given up, and nobody asked again since)."""
    if not report_ids:
        return set()
    later = aliased(ReportQuestion)
    return set(
        db.session.scalars(
            select(ReportQuestion.report_id)
            .join(Report, Report.id == ReportQuestion.report_id)
            .where(
                ReportQuestion.report_id.in_(report_ids),
                ReportQuestion.unanswered_at.is_not(None),
                Report.status != "needs_info",
                ~exists().where(
                    later.report_id == ReportQuestion.report_id, later.id > ReportQuestion.id
                ),
            )
        )
    )


# --- what partners see -----------------------------------------------------------------------


def filed_condition(actor=None):
    """Reports filed by the actor's association (false for an actor without one)."""
    organisation_id = organisation_of(actor)
    if organisation_id is None:
        return false()
    return Report.filing_organisation_id == organisation_id


def _filed_by_actor(report: Report, actor) -> bool:
    organisation_id = organisation_of(actor)
    return organisation_id is not None and report.filing_organisation_id == organisation_id


def filed_report(reference: str, actor=None) -> Report:
    """A report the actor's association filed, or ``OutOfScope`` (a 404)."""
    report = db.session.scalar(
        select(Report).where(Report.reference == (reference or "")[:20], filed_condition(actor))
    )
    if report is None:
        raise OutOfScope("Report")
    return report


@dataclass
class Outcome:
    report: Report
    status: object  # words
    alert: str | None  # the published alert's reference
    case: str | None  # the case's reference, when routed to the actor's association


def outcomes(reports: list[Report], actor=None) -> list[Outcome]:
    ids = [r.id for r in reports]
    published: dict[int, str] = {}
    cases: dict[int, str] = {}
    if ids:
        for report_id, reference in db.session.execute(
            select(AlertReport.report_id, Alert.reference)
            .join(Alert, Alert.id == AlertReport.alert_id)
            .where(AlertReport.report_id.in_(ids), Alert.status == "published")
            .order_by(Alert.id)
        ):
            published.setdefault(report_id, reference)
        for report_id, reference in db.session.execute(
            scoped(
                select(Case.report_id, Case.reference).where(Case.report_id.in_(ids)), Case, actor
            ).order_by(Case.id)
        ):
            cases.setdefault(report_id, reference)
    return [
        Outcome(r, PARTNER_STATUSES.get(r.status, r.status), published.get(r.id), cases.get(r.id))
        for r in reports
    ]


FILTERS = ("open", "question", "all")


def filed_reports(actor=None, which: str = "all", page: int = 1, size: int = 50) -> Page:
    """The reports the actor's association filed, newest first, with their outcome."""
    statement = select(Report).where(filed_condition(actor))
    if which == "open":
        statement = statement.where(Report.status.in_(moderation.OPEN_STATUSES))
    elif which == "question":
        statement = statement.where(Report.status == "needs_info")
    found = paginate(statement.order_by(Report.received_at.desc(), Report.id.desc()), page, size)
    found.items = outcomes(found.items, actor)
    return found


@dataclass
class RelayHome:
    filed_open: int
    questions: int
    registrations: int
    waiting: list[Report]  # the reports with a question, oldest question first


def relay_home(actor=None) -> RelayHome | None:
    """The relay's home section: None for whoever does not answer for filed reports."""
    if not can(ANSWER, actor):
        return None
    counts = dict(
        db.session.execute(
            select(Report.status, func.count(Report.id))
            .where(filed_condition(actor), Report.status.in_(moderation.OPEN_STATUSES))
            .group_by(Report.status)
        ).all()
    )
    waiting = db.session.scalars(
        select(Report)
        .where(filed_condition(actor), Report.status == "needs_info")
        .order_by(Report.status_changed_at, Report.id)
        .limit(5)
    ).all()
    registrations = db.session.scalar(
        scoped(select(func.count(Subscriber.id)), Subscriber, actor).where(
            Subscriber.status == "pending"
        )
    )
    return RelayHome(
        filed_open=sum(counts.values()),
        questions=counts.get("needs_info", 0),
        registrations=registrations or 0,
        waiting=list(waiting),
    )
