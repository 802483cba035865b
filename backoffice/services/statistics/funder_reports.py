"""Funder reports as records: requested, followed while they build, kept with their checksum.

The rules about a ``FunderReport`` row live here: what may be requested, the steps of a build,
which builds died with their process, what the schedule builds. Rendering the PDF is
``reports_pdf.funder_report``'s; whoever orchestrates a build (the view's background thread,
the job, the command) calls it and hands the bytes back to ``mark_built``. Everything here
only flushes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.organisation import Organisation
from backoffice.models.statistics import BUILD_STATUSES, FunderReport
from backoffice.services import audit
from backoffice.services.statistics.periods import Period, scheduled_periods
from backoffice.services.statistics.viewers import Scope, threshold

LANGUAGES = ("fr", "en")
STALE_MINUTES = 30  # a build "queued" or "running" longer than this died with its process
IN_PROGRESS = ("queued", "running")


class BuildRefused(ValueError):
    """Parameters that cannot give a report (the message is for the user)."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def partner_names() -> list[str]:
    """The partner associations named on a report's cover: the active organisations other
    than the programme's coordination, by name."""
    return list(
        db.session.scalars(
            select(Organisation.name)
            .where(Organisation.active.is_(True), Organisation.kind != "programme")
            .order_by(Organisation.name)
        )
    )


def check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise BuildRefused(_l("Choose French or English."))


def request_build(
    period: Period,
    language: str,
    department: str | None,
    *,
    user=None,
    trigger: str = "request",
) -> FunderReport:
    """A queued build (the caller starts it once committed); an identical one in progress is
    returned instead of a second."""
    period.check()
    check_language(language)
    Scope(period, department=department)  # refuses an unknown department
    expire_stale_builds()
    pending = db.session.scalars(
        select(FunderReport).where(
            FunderReport.period_start == period.start,
            FunderReport.period_end == period.end,
            FunderReport.language == language,
            FunderReport.department.is_(None)
            if department is None
            else FunderReport.department == department,
            FunderReport.status.in_(IN_PROGRESS),
        )
    ).first()
    if pending is not None:
        return pending
    report = FunderReport(
        kind="funder",
        period_start=period.start,
        period_end=period.end,
        language=language,
        department=department,
        parameters=_parameters(period, language, department),
        trigger=trigger,
        status="queued",
        progress=0,
        requested_by_id=getattr(user, "id", None),
        requested_at=utcnow(),
    )
    db.session.add(report)
    db.session.flush()
    audit.record(
        "funder_report_requested",
        report,
        details={"start": period.start.isoformat(), "end": period.end.isoformat(),
                 "language": language, "department": department or "", "trigger": trigger},
    )  # fmt: skip
    return report


def _parameters(period: Period, language: str, department: str | None) -> dict:
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "kind": period.kind,
        "language": language,
        "department": department,
        "threshold": threshold(),
        "scope": "programme",
    }


# --- the steps of a build ---------------------------------------------------------------------


def buildable(report_id: int) -> FunderReport | None:
    """The report, if it is still to be built (a second worker may have taken it)."""
    report = db.session.get(FunderReport, report_id)
    if report is None or report.status not in IN_PROGRESS:
        return None
    return report


def mark_running(report: FunderReport) -> None:
    report.status, report.started_at, report.progress, report.step = "running", utcnow(), 5, "start"
    db.session.flush()


def mark_progress(report: FunderReport, percent: int, step: str) -> None:
    report.progress, report.step = percent, step
    db.session.flush()


def mark_built(report: FunderReport, pdf: bytes, seconds: float) -> None:
    report.pdf = pdf
    report.sha256 = hashlib.sha256(pdf).hexdigest()
    report.size_bytes = len(pdf)
    report.build_seconds = round(seconds, 2)
    report.built_at = utcnow()
    report.status, report.progress, report.step = "done", 100, "done"
    audit.record(
        "funder_report_built",
        report,
        details={"sha256": report.sha256[:16], "bytes": len(pdf), "trigger": report.trigger},
    )
    db.session.flush()


def mark_failed(report: FunderReport, error: BaseException | str) -> None:
    """The page must say the build failed, never hang at 50 % (the error's kind only)."""
    report.status, report.step = "failed", "failed"
    report.error = error if isinstance(error, str) else type(error).__name__
    db.session.flush()


def expire_stale_builds(now: dt.datetime | None = None) -> None:
    """Builds left in progress by a process that stopped are marked failed (a write: POSTs
    and jobs only; pages show them as interrupted without writing, see ``shown_status``)."""
    for report in db.session.scalars(
        select(FunderReport).where(
            FunderReport.status.in_(IN_PROGRESS), FunderReport.requested_at < _stale_before(now)
        )
    ):
        mark_failed(report, "interrupted")


def _stale_before(now: dt.datetime | None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(minutes=STALE_MINUTES)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownBuild:
    """A build as a page shows it: a build that died with its process shows as failed."""

    report: FunderReport
    status: str
    error: str | None

    @property
    def status_label(self) -> str:
        return str(BUILD_STATUSES.get(self.status, self.status))

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS


def shown_status(report: FunderReport, now: dt.datetime | None = None) -> ShownBuild:
    if report.status in IN_PROGRESS and report.requested_at < _stale_before(now):
        return ShownBuild(report, "failed", "interrupted")
    return ShownBuild(report, report.status, report.error)


def recent_builds(limit: int = 50) -> list[ShownBuild]:
    """The latest builds, newest first, as shown (reads only)."""
    now = utcnow()
    reports = db.session.scalars(
        select(FunderReport).order_by(FunderReport.requested_at.desc()).limit(limit)
    )
    return [shown_status(report, now) for report in reports]


# --- the schedule -------------------------------------------------------------------------------


def scheduled_builds(today: dt.date) -> list[tuple[Period, str]]:
    """(period, language) the schedule still has to build on ``today``: last month's report,
    and last year's in January, in every language, unless the schedule already built it."""
    wanted = []
    for period in scheduled_periods(today):
        for language in LANGUAGES:
            if not _built_on_schedule(period, language):
                wanted.append((period, language))
    return wanted


def _built_on_schedule(period: Period, language: str) -> bool:
    return (
        db.session.scalar(
            select(FunderReport.id).where(
                FunderReport.trigger == "schedule",
                FunderReport.status == "done",
                FunderReport.period_start == period.start,
                FunderReport.period_end == period.end,
                FunderReport.language == language,
                FunderReport.department.is_(None),
            )
        )
        is not None
    )
