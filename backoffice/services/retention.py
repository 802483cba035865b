"""The retention schedule of reports: each data class of a report has a period, set in
configuration, after which a scheduled job (``apply_retention``) erases or coarsens it.

Periods are counted from the day the report was *settled*: the first moderation step that
took it to a final status (published, recorded only, rejected, merged; archived after an
alert). A report still in moderation is never touched. While a case opened from the report
is still followed (not closed, not erased), its contact and testimony are kept: the social
worker may need them (a dossier for a lawyer, a complaint); the case has its own retention.

What stays: the redacted alert text (in the alert), the aggressor's identifiers (lookup data,
not the victim's), and every field the statistics count (receipt moment, department, city,
channel, language, context, violence types, status, consents). So the figures, and the
funder reports, are the same before and after a run.

The job is idempotent and resumable: each rule marks the reports it applied to
(``Report.<rule>_at``), works in batches and commits each batch (``checkpoint``), so an
interrupted run is taken up where it stopped by the next one. ``preview`` counts what the
next run would do, without any personal data. ``docs/data-protection.md`` carries the table
``schedule_rows`` gives (``tools/retention_table.py``); a test checks they agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, and_, exists, func, not_, select

from backoffice.extensions import db
from backoffice.models.base import EncryptedText, utcnow
from backoffice.models.case import Case
from backoffice.models.report import CONTACT_SEALED_COLUMNS, Report, ReportEvent
from backoffice.services import audit, confidential
from backoffice.services.outreach import months_before
from backoffice.transactions import checkpoint

# Final statuses: the report's moderation is over.
SETTLED_STATUSES = ("published", "archived", "recorded", "rejected", "merged")
SYSTEM = "system"


# --- what each rule does to one report ----------------------------------------------------------


def _sealed_left(report: Report) -> bool:
    """Whether a column sealed with the report's data key still holds a ciphertext."""
    return any(
        getattr(report, column.key) is not None
        for column in Report.__table__.columns
        if isinstance(column.type, EncryptedText)
    )


def _destroy_key_if_unused(report: Report) -> None:
    """Crypto-shred the report's data key once nothing sealed with it is kept."""
    if not _sealed_left(report):
        confidential.shred(report, [])


def erase_victim_contact(report: Report) -> None:
    """The victim's pseudonym, phone, email and language go for good."""
    for column in CONTACT_SEALED_COLUMNS:
        setattr(report, column, None)
    _destroy_key_if_unused(report)


def shred_testimony(report: Report) -> None:
    """The narrative and what was derived from it for the moderator (the assistant's
    proposal and the reviewed redaction, which quote it) go; the published alert's text
    (``Alert.summary``) stays with the alert. When and by whom it was reviewed stays."""
    # The narrative is sealed with the report's key: dropping the ciphertext is enough, and
    # the key itself goes once nothing else sealed with it is kept.
    report.narrative_sealed = None
    # Both redaction texts quote her testimony; the review's outcome stays in its report
    # event (counts) and in redaction_reviewed_at / _by, which hold nothing of hers.
    report.redaction_proposal_sealed = None
    report.redaction_reviewed_sealed = None
    _destroy_key_if_unused(report)


def coarsen_incident(report: Report) -> None:
    """The exact time goes (the date stays, to the day); the place is kept to the city and
    department, which is all a report stores besides the narrative."""
    report.incident_time = None


# --- the schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    code: str
    setting: str  # the configuration key of the period
    unit: str  # "days" or "months"
    data: str  # what it covers (for the documentation, in English)
    action: str  # what happens to it
    column: str  # Report's column marking the reports it was applied to
    apply: Callable[[Report], None]
    held_by_case: bool  # kept while a case opened from the report is followed

    def period(self) -> int:
        return int(current_app.config[self.setting])

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        if self.unit == "months":
            return months_before(now, self.period())
        return now - dt.timedelta(days=self.period())


RULES: tuple[Rule, ...] = (
    Rule(
        "victim_contact",
        "RETENTION_VICTIM_CONTACT_DAYS",
        "days",
        "victim contact in a report (pseudonym, phone, email, language)",
        "erased (crypto-shredded)",
        "contact_erased_at",
        erase_victim_contact,
        held_by_case=True,
    ),
    Rule(
        "testimony",
        "RETENTION_TESTIMONY_MONTHS",
        "months",
        "testimony (narrative, redaction proposal and reviewed redaction)",
        "shredded; the redacted alert text and the statistics fields stay",
        "testimony_shredded_at",
        shred_testimony,
        held_by_case=True,
    ),
    Rule(
        "exact_time",
        "RETENTION_EXACT_TIME_DAYS",
        "days",
        "exact time and place of the incident",
        "time coarsened to the day, place to the city",
        "coarsened_at",
        coarsen_incident,
        held_by_case=False,
    ),
)


def batch_size() -> int:
    return max(1, int(current_app.config.get("RETENTION_BATCH_SIZE", 200)))


# --- which reports are due ----------------------------------------------------------------------


def _settled_at():
    """Per report, when it first reached a final status."""
    return (
        select(
            ReportEvent.report_id.label("report_id"),
            func.min(ReportEvent.occurred_at).label("settled_at"),
        )
        .where(ReportEvent.to_status.in_(SETTLED_STATUSES))
        .group_by(ReportEvent.report_id)
        .subquery("settled")
    )


def _followed_case():
    """A case opened from the report that is still followed (jobs see every organisation)."""
    return exists().where(
        Case.report_id == Report.id, Case.status != "closed", Case.erased_at.is_(None)
    )


def _due(rule: Rule, now: dt.datetime, held: bool = False) -> Select:
    """The ids of the reports ``rule`` applies to now (or, ``held``, would but for a case)."""
    settled = _settled_at()
    marker = getattr(Report, rule.column)
    conditions = [
        Report.status.in_(SETTLED_STATUSES),
        settled.c.settled_at < rule.cutoff(now),
        marker.is_(None),
    ]
    if rule.held_by_case:
        conditions.append(_followed_case() if held else not_(_followed_case()))
    return (
        select(Report.id)
        .join(settled, settled.c.report_id == Report.id)
        .where(and_(*conditions))
        .order_by(Report.id)
    )


def _count(statement: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0


# --- preview and run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    code: str
    period: int
    unit: str
    due: int  # reports the next run would change
    held: int  # reports past the period kept because a case needs them


def preview(now: dt.datetime | None = None) -> list[PreviewLine]:
    """What the next run would do: counts only, never a reference or a value."""
    now = now or utcnow()
    return [
        PreviewLine(
            rule.code,
            rule.period(),
            rule.unit,
            _count(_due(rule, now)),
            _count(_due(rule, now, held=True)) if rule.held_by_case else 0,
        )
        for rule in RULES
    ]


def apply_rule(rule: Rule, now: dt.datetime) -> int:
    """Apply one rule to every due report, a batch per commit; returns how many."""
    done = 0
    while True:
        ids = db.session.scalars(_due(rule, now).limit(batch_size())).all()
        if not ids:
            return done
        reports = db.session.scalars(select(Report).where(Report.id.in_(ids))).all()
        for report in reports:
            rule.apply(report)
            setattr(report, rule.column, now)
            db.session.add(
                ReportEvent(
                    report=report,
                    occurred_at=now,
                    actor_name=SYSTEM,
                    action="retention",
                    details={"rule": rule.code},
                )
            )
        done += len(reports)
        audit.record(
            "report_retention_applied",
            object_type="Report",
            details={"rule": rule.code, "reports": len(reports)},
        )
        checkpoint()  # this batch is erased for good, whatever happens next


def apply_retention(now: dt.datetime | None = None) -> dict[str, int]:
    """The scheduled job: apply every rule of the schedule; returns the counts per rule."""
    now = now or utcnow()
    return {rule.code: apply_rule(rule, now) for rule in RULES}


# --- the schedule as a table (documentation) ----------------------------------------------------


def schedule_rows(config: dict) -> list[tuple[str, str, str, str]]:
    """(data, period, setting, what happens) per rule, in English, for the documentation."""
    rows = []
    for rule in RULES:
        period = f"{config[rule.setting]} {rule.unit} after the report is settled"
        if rule.held_by_case:
            period += ", unless a case opened from it is still followed"
        rows.append((rule.data, period, f"`{rule.setting}`", rule.action))
    return rows
