"""The report lifecycle (DESIGN.md): one state machine, and the moderation queue.

Every status change of a report goes through ``perform``: it checks the transition table
(``TRANSITIONS``: from which statuses, to which, who may, whether a reason is required and
whether the actor must hold the claim), applies the transition and writes a ``ReportEvent``
(who, when, from, to, reason) and an audit event. Views, the API and jobs call it; nothing
else sets ``Report.status``.

Concurrency: a claim is a lock with an owner and an expiry (``CLAIM_MINUTES``, 30 by default)
so two moderators do not work on the same report; and every change is checked against the
version the moderator saw (``expected_version``) and, at write time, by the ORM's version
column, so a concurrent change fails with ``ConcurrentChange`` instead of overwriting.

The redaction review is a required step: a report cannot be approved (nor published) until a
moderator has accepted or corrected the anonymisation proposal (``review_redaction``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.report import Report, ReportEvent, ReportIdentifier
from backoffice.models.worker_access import ReportQuestion
from backoffice.security import OutOfScope, can
from backoffice.services import audit
from backoffice.services import references as references_service
from backoffice.services.anonymise import PLACEHOLDERS, Span, apply_spans
from backoffice.services.paging import Page, paginate

SYSTEM = "system"  # the actor of scheduled jobs and of intake (no staff user)
MODERATE = "moderate"  # the capability (security.CAPABILITIES) of whoever moderates
ANSWER_FILED = "answer_filed_reports"  # a relay answering about a report her association filed

STATUSES: dict[str, object] = {
    "received": _l("Received"),
    "in_review": _l("In review"),
    "needs_info": _l("Needs information"),
    "approved": _l("Approved"),
    "published": _l("Published"),
    "archived": _l("Archived"),
    "rejected": _l("Rejected"),
    "merged": _l("Merged"),
    "recorded": _l("Recorded only"),
}
# Statuses a moderator still has work on, oldest first in the queue.
OPEN_STATUSES = ("received", "in_review", "needs_info", "approved")
REASON_MAX_LENGTH = 2000
DEFAULT_CLAIM_MINUTES = 30


# --- errors --------------------------------------------------------------------------------


class ModerationError(Exception):
    """A refused moderation step; ``message`` is a sentence for the moderator."""

    code = "refused"

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


class TransitionRefused(ModerationError):
    code = "transition_refused"


class ReasonRequired(ModerationError):
    code = "reason_required"


class ClaimHeld(ModerationError):
    code = "claim_held"


class ConcurrentChange(ModerationError):
    code = "concurrent_change"

    def __init__(self, message: object | None = None) -> None:
        super().__init__(
            message
            or _l(
                "Someone else changed this report while you were working on it. Reload the "
                "page to see their changes; nothing of yours was saved."
            )
        )


# --- the transition table --------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]
    target: str
    performers: frozenset[str]  # capabilities (security.can), and/or SYSTEM
    label: object
    reason_required: bool = False
    needs_claim: bool = False  # from in_review, the actor must hold the report's claim
    via_alert: bool = False  # performed by the alert service (publish, retract), not a button


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition("claim", ("received", "in_review"), "in_review", frozenset({MODERATE}),
                   _l("Claim")),
        Transition("release", ("in_review",), "received", frozenset({MODERATE}),
                   _l("Release"), needs_claim=True),
        Transition("approve", ("in_review",), "approved", frozenset({MODERATE}),
                   _l("Approve for an alert"), needs_claim=True),
        Transition("request_info", ("in_review",), "needs_info", frozenset({MODERATE}),
                   _l("Ask for information"), reason_required=True, needs_claim=True),
        # ANSWER_FILED: a relay of the association that filed the report answers (questions).
        Transition("info_added", ("needs_info",), "received",
                   frozenset({MODERATE, ANSWER_FILED, SYSTEM}), _l("Information added")),
        # No answer after INFORMATION_ANSWER_DAYS (job expire_unanswered_questions).
        Transition("no_answer", ("needs_info",), "received", frozenset({SYSTEM}),
                   _l("No answer")),
        Transition("reject", ("in_review",), "rejected", frozenset({MODERATE}),
                   _l("Reject"), reason_required=True, needs_claim=True),
        Transition("merge", ("in_review",), "merged", frozenset({MODERATE}),
                   _l("Merge into another report"), needs_claim=True),
        Transition("record_only", ("in_review", "approved"), "recorded",
                   frozenset({MODERATE}), _l("Record only (no alert)"), needs_claim=True),
        Transition("publish", ("approved",), "published", frozenset({MODERATE}),
                   _l("Publish"), via_alert=True),
        # SYSTEM too: the person who reported may withdraw her report's alert (follow_up).
        Transition("retract", ("published",), "archived", frozenset({MODERATE, SYSTEM}),
                   _l("Retract"), reason_required=True, via_alert=True),
        Transition("expire", ("published",), "archived", frozenset({SYSTEM}),
                   _l("Expire"), via_alert=True),
        # Retraction no longer strands a report (issue 18.6): once every alert it went into
        # is retracted, the alert service brings it back to "approved" for a new alert.
        Transition("reopen", ("archived",), "approved", frozenset({MODERATE}),
                   _l("Reuse for a new alert"), via_alert=True),
    )
}  # fmt: skip


def claim_minutes() -> int:
    if has_app_context():
        return int(current_app.config.get("CLAIM_MINUTES", DEFAULT_CLAIM_MINUTES))
    return DEFAULT_CLAIM_MINUTES


def _may_perform(transition: Transition, actor) -> bool:
    """SYSTEM (no actor) or a staff user with one of the capabilities the table names."""
    if actor is None:
        return SYSTEM in transition.performers
    return any(can(capability, actor) for capability in transition.performers - {SYSTEM})


def _actor_name(actor) -> str:
    return getattr(actor, "username", None) or SYSTEM


def claim_is_live(report: Report, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        report.claimed_by_id is not None
        and report.claim_expires_at is not None
        and report.claim_expires_at > now
    )


def holds_claim(report: Report, actor, now: dt.datetime | None = None) -> bool:
    return actor is not None and claim_is_live(report, now) and report.claimed_by_id == actor.id


def _claim_owner_name(report: Report) -> str:
    owner = report.claimed_by
    return (owner.first_name or owner.username) if owner is not None else "?"


def _check_claim(transition: Transition, report: Report, actor, now: dt.datetime) -> None:
    live = claim_is_live(report, now)
    mine = actor is not None and report.claimed_by_id == actor.id
    if transition.name == "claim":
        if live and not mine:
            raise ClaimHeld(_claim_held_message(report))
        return
    if not transition.needs_claim or report.status != "in_review":
        return
    if live and not mine:
        raise ClaimHeld(_claim_held_message(report))
    if not mine:
        raise TransitionRefused(_l("Claim the report before working on it."))


def _claim_held_message(report: Report) -> object:
    until = report.claim_expires_at.strftime("%H:%M") if report.claim_expires_at else "?"
    return _l(
        "%(name)s is working on this report (claimed until %(until)s UTC).",
        name=_claim_owner_name(report),
        until=until,
    )


def check_allowed(report: Report, name: str, actor, now: dt.datetime | None = None) -> Transition:
    """The transition, or the reason it is refused (status, role or claim)."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise TransitionRefused(_l("This action does not exist."))
    if report.status not in transition.sources:
        raise TransitionRefused(
            _l(
                "“%(action)s” is not possible for a report that is %(status)s.",
                action=transition.label,
                status=STATUSES.get(report.status, report.status),
            )
        )
    if not _may_perform(transition, actor):
        raise TransitionRefused(_l("Your role does not allow this action."))
    _check_claim(transition, report, actor, now or utcnow())
    return transition


def available_transitions(
    report: Report, actor, now: dt.datetime | None = None
) -> list[Transition]:
    """What this actor may do now (status, role and claim), in table order."""
    allowed = []
    for name in TRANSITIONS:
        try:
            allowed.append(check_allowed(report, name, actor, now))
        except ModerationError:
            continue
    return allowed


def _check_version(report: Report, expected_version: int | None) -> None:
    if expected_version is not None and report.version_id != int(expected_version):
        raise ConcurrentChange()


def _clean_reason(transition: Transition, reason: str | None) -> str | None:
    reason = (reason or "").strip() or None
    if transition.reason_required and not reason:
        raise ReasonRequired(_l("Give a reason: it is kept in the report's history."))
    if reason and len(reason) > REASON_MAX_LENGTH:
        raise ReasonRequired(
            _l("The reason is too long (%(max)d characters at most).", max=REASON_MAX_LENGTH)
        )
    return reason


def check_publishable(report: Report) -> None:
    """Consent to an alert, and the redaction reviewed: both required before an alert."""
    if not report.consent_publish_alert:
        raise TransitionRefused(
            _l("The victim did not consent to an alert: record the report only.")
        )
    if report.redaction_reviewed_sealed is None:  # present, without decrypting it
        raise TransitionRefused(_l("Review the redaction of the victim's details before going on."))


def _guard(transition: Transition, report: Report, merge_into: Report | None) -> None:
    """Rules of particular transitions, beyond status, role and claim."""
    if transition.name in ("approve", "publish"):
        check_publishable(report)
    if transition.name == "merge":
        if merge_into is None or merge_into.id == report.id:
            raise TransitionRefused(_l("Choose another report to merge this one into."))
        if merge_into.status in ("merged", "rejected"):
            raise TransitionRefused(_l("A report cannot be merged into a merged or rejected one."))


def perform(
    report: Report,
    name: str,
    actor,
    *,
    expected_version: int | None = None,
    reason: str | None = None,
    merge_into: Report | None = None,
    details: dict | None = None,
    alert=None,
    now: dt.datetime | None = None,
) -> ReportEvent:
    """Apply one transition, with its event; flushes, the caller commits.

    Publication, retraction and expiry (``via_alert``) happen to an alert: only the alert
    service performs them, passing the ``alert``, so a report is never published alone.

    Raises a ``ModerationError`` (nothing changed) when refused; ``ConcurrentChange`` when
    the report changed since ``expected_version`` or while this change was written.
    """
    now = now or utcnow()
    _check_version(report, expected_version)
    transition = check_allowed(report, name, actor, now)
    if transition.via_alert and alert is None:
        raise TransitionRefused(_l("This step is done from the alert, not from the report."))
    reason = _clean_reason(transition, reason)
    _guard(transition, report, merge_into)
    details = dict(details or {})
    if merge_into is not None:
        details["into"] = merge_into.reference
    source = report.status
    _apply(transition, report, actor, now, merge_into)
    if transition.name == "request_info":
        # The question may quote her testimony: sealed with the report, never in the history.
        details["question"] = _ask(report, actor, reason, now).id
        reason = None
    event = _event(report, transition.name, actor, source, transition.target, reason, details, now)
    if merge_into is not None:
        _event(merge_into, "merged_from", actor, None, None, None, {"from": report.reference}, now)
    audit.record(
        f"report_{transition.name}",
        report,
        details={"from": source, "to": transition.target, **_codes(details)},
    )
    _flush()
    return event


def _apply(transition: Transition, report: Report, actor, now, merge_into) -> None:
    report.status = transition.target
    report.status_changed_at = now
    if transition.name == "claim":
        report.claimed_by_id = actor.id
        report.claim_expires_at = now + dt.timedelta(minutes=claim_minutes())
    elif transition.target != "in_review":
        # Leaving review ends the claim: the next step is someone else's, or the alert's.
        report.claimed_by_id = None
        report.claim_expires_at = None
    if merge_into is not None:
        report.merged_into_id = merge_into.id


def _ask(report: Report, actor, text: str, now: dt.datetime) -> ReportQuestion:
    """The moderator's question, sealed, addressed to whoever can answer: the association
    that filed the report (its relays), otherwise the worker (the API follow-up)."""
    question = ReportQuestion(
        report_id=report.id,
        addressee="partner" if report.filing_organisation_id is not None else "worker",
        asked_by_id=getattr(actor, "id", None),
        asked_at=now,
    )
    question.text = text
    db.session.add(question)
    db.session.flush()
    return question


def _event(report, action, actor, source, target, reason, details, now) -> ReportEvent:
    event = ReportEvent(
        report=report,
        occurred_at=now,
        actor_id=getattr(actor, "id", None),
        actor_name=_actor_name(actor),
        action=action,
        from_status=source,
        to_status=target,
        reason=reason,
        details=details,
    )
    db.session.add(event)
    return event


def _codes(details: dict) -> dict:
    """Only references and counts go to the audit trail."""
    return {k: v for k, v in details.items() if isinstance(v, int | str) and len(str(v)) <= 40}


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConcurrentChange() from None


def renew_claim(report: Report, actor, now: dt.datetime | None = None) -> None:
    """Extend my live claim (each saved step does it, so active work does not lose it)."""
    now = now or utcnow()
    if holds_claim(report, actor, now):
        report.claim_expires_at = now + dt.timedelta(minutes=claim_minutes())


# --- the redaction review ----------------------------------------------------------------------


def proposal_spans(report: Report) -> list[dict]:
    proposal = report.redaction_proposal or {}
    return list(proposal.get("spans") or [])


def current_spans(report: Report) -> list[dict]:
    """The reviewed spans when there are, else the assistant's proposal."""
    reviewed = report.redaction_reviewed  # decrypted (and audited) once
    if reviewed is not None:
        return list(reviewed.get("spans") or [])
    return proposal_spans(report)


def parse_spans(narrative: str, raw: Iterable) -> list[Span]:
    """Spans sent by the review page, checked against the narrative."""
    spans = []
    for item in raw:
        try:
            span = Span(int(item["start"]), int(item["end"]), str(item["type"]))
        except (KeyError, TypeError, ValueError):
            raise TransitionRefused(
                _l("The redaction could not be read; reload the page.")
            ) from None
        if span.type not in PLACEHOLDERS:
            raise TransitionRefused(_l("Unknown kind of redacted detail."))
        if not 0 <= span.start < span.end <= len(narrative):
            raise TransitionRefused(_l("A redaction lies outside the narrative; reload the page."))
        spans.append(span)
    return spans


def review_redaction(
    report: Report,
    actor,
    spans: list[Span] | None = None,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> ReportEvent:
    """Record the moderator's review: ``spans=None`` accepts the proposal as it is."""
    now = now or utcnow()
    _check_version(report, expected_version)
    if report.status != "in_review":
        raise TransitionRefused(_l("Claim the report to review its redaction."))
    _check_claim(TRANSITIONS["approve"], report, actor, now)
    accepted = spans is None
    if spans is None:
        spans = [Span(s["start"], s["end"], s["type"]) for s in proposal_spans(report)]
    try:
        redacted = apply_spans(report.narrative or "", spans)
    except ValueError:
        raise TransitionRefused(
            _l("The redaction could not be applied; reload the page.")
        ) from None
    before = {(s["start"], s["end"]) for s in proposal_spans(report)}
    after = {(s.start, s.end) for s in spans}
    report.redaction_reviewed = {
        "text": redacted,
        "spans": [s.to_json() for s in sorted(spans, key=lambda s: (s.start, s.end))],
        "accepted_proposal": accepted,
    }
    report.redaction_reviewed_at = now
    report.redaction_reviewed_by_id = actor.id
    renew_claim(report, actor, now)
    counts = {"spans": len(after), "added": len(after - before), "removed": len(before - after)}
    event = _event(report, "redaction_reviewed", actor, report.status, report.status, None,
                   counts, now)  # fmt: skip
    audit.record("report_redaction_reviewed", report, details=counts)
    _flush()
    return event


def redacted_values(report: Report) -> list[str]:
    """The narrative's pieces the moderator marked as the victim's details."""
    reviewed = report.redaction_reviewed or {}
    narrative = report.narrative or ""  # decrypted (and audited) once
    return [
        narrative[s["start"] : s["end"]]
        for s in reviewed.get("spans") or []
        if 0 <= s["start"] < s["end"] <= len(narrative)
    ]


# --- reading -------------------------------------------------------------------------------


def history(report: Report) -> list[ReportEvent]:
    return list(
        db.session.scalars(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id)
            .order_by(ReportEvent.occurred_at, ReportEvent.id)
        )
    )


def linked_reports(report: Report) -> list[tuple[Report, list[str]]]:
    """Other reports sharing an identifier with this one, with the kinds they share."""
    own = [(i.kind, i.blind_index) for i in report.identifiers]
    if not own:
        return []
    condition = or_(
        *[(ReportIdentifier.kind == k) & (ReportIdentifier.blind_index == b) for k, b in own]
    )
    rows = db.session.execute(
        select(ReportIdentifier.report_id, ReportIdentifier.kind)
        .where(condition, ReportIdentifier.report_id != report.id)
        .order_by(ReportIdentifier.report_id)
    ).all()
    kinds: dict[int, list[str]] = {}
    for report_id, kind in rows:
        kinds.setdefault(report_id, [])
        if kind not in kinds[report_id]:
            kinds[report_id].append(kind)
    reports = db.session.scalars(
        select(Report).where(Report.id.in_(kinds)).order_by(Report.received_at)
    )
    return [(other, kinds[other.id]) for other in reports]


def merge_candidates(report: Report) -> list[Report]:
    """Reports this one may be merged into: those sharing an identifier, not merged or
    rejected themselves."""
    return [
        other
        for other, _kinds in linked_reports(report)
        if other.status not in ("merged", "rejected")
    ]


def report_by_reference(reference: str) -> Report:
    """A report by its reference (``OutOfScope`` when there is none: a 404)."""
    report = find_report(reference)
    if report is None:
        raise OutOfScope("Report")
    return report


def get_report(report_id: int) -> Report:
    """A report by id (``OutOfScope`` when there is none: a 404)."""
    report = db.session.get(Report, report_id)
    if report is None:
        raise OutOfScope("Report")
    return report


def received_reports(page: int = 1, size: int = 50) -> Page:
    """Every report, newest first, one page at a time (the moderators' read-only list)."""
    statement = select(Report).order_by(Report.received_at.desc(), Report.id.desc())
    return paginate(statement, page, size)


def find_report(reference: str | None) -> Report | None:
    reference = (reference or "").strip()
    if not reference:
        return None
    return db.session.scalar(select(Report).where(Report.reference == reference))


def reports_by_reference(references: list[str]) -> list[Report]:
    """The reports named, in the order given (unknown or malformed references are left out)."""
    references = [r for r in references if references_service.is_reference(r, "J")]
    if not references:
        return []
    found = db.session.scalars(select(Report).where(Report.reference.in_(references))).all()
    order = {reference: rank for rank, reference in enumerate(references)}
    return sorted(found, key=lambda report: order[report.reference])


# --- the queue -----------------------------------------------------------------------------

AGE_FILTERS: dict[str, tuple[int, object]] = {
    "1d": (24, _l("Waiting more than 24 hours")),
    "3d": (72, _l("Waiting more than 3 days")),
    "7d": (168, _l("Waiting more than a week")),
}


@dataclass
class QueueFilters:
    status: str = "open"  # a status, "open" (every open status) or "all"
    age: str | None = None
    department: str | None = None
    violence_type: str | None = None
    severity: str | None = None
    language: str | None = None
    channel: str | None = None

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class QueuePage(Page):
    """A page of the queue, with the count of each status under the same filters."""

    counts: dict[str, int] = field(default_factory=dict)
    filters: QueueFilters = field(default_factory=QueueFilters)
    now: dt.datetime = field(default_factory=utcnow)


def _filtered(statement, filters: QueueFilters, now: dt.datetime):
    if filters.age in AGE_FILTERS:
        hours = AGE_FILTERS[filters.age][0]
        statement = statement.where(Report.received_at <= now - dt.timedelta(hours=hours))
    if filters.department:
        statement = statement.where(Report.department == filters.department)
    if filters.violence_type:
        # Codes are controlled words, so the quoted code only matches that element.
        pattern = f'%"{filters.violence_type}"%'
        statement = statement.where(cast(Report.violence_types, String).like(pattern))
    if filters.severity:
        statement = statement.where(Report.severity == filters.severity)
    if filters.language:
        statement = statement.where(Report.language == filters.language)
    if filters.channel:
        statement = statement.where(Report.channel == filters.channel)
    return statement


def _status_condition(status: str):
    if status == "all":
        return None
    if status == "open":
        return Report.status.in_(OPEN_STATUSES)
    return Report.status == status


def queue(
    filters: QueueFilters, page: int = 1, page_size: int = 50, now: dt.datetime | None = None
) -> QueuePage:
    """One page of the moderation queue, oldest first, with counts per status."""
    now = now or utcnow()
    counted = _filtered(select(Report.status, func.count(Report.id)), filters, now)
    counts = dict(db.session.execute(counted.group_by(Report.status)).all())
    if filters.status == "all":
        total = sum(counts.values())
    elif filters.status == "open":
        total = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    else:
        total = counts.get(filters.status, 0)
    statement = _filtered(select(Report), filters, now)
    condition = _status_condition(filters.status)
    if condition is not None:
        statement = statement.where(condition)
    ordered = statement.options(joinedload(Report.claimed_by)).order_by(
        Report.received_at, Report.id
    )
    found = paginate(ordered, page, page_size, total=total)
    return QueuePage(**found.__dict__, counts=counts, filters=filters, now=now)
