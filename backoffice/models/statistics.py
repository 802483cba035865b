"""Statistics: the daily rollup behind the dashboard, and the funder reports built.

``StatisticsDaily`` holds counts per day (UTC receipt day of the reports; day of the event
for alerts), department (``*`` for the programme, ``+`` for subscribers who follow all of
France) and dimension: no row describes a report, only counts. It is filled by the same SQL
that computes the figures live (``services.statistics.sources``), refreshed by a job every few
minutes for the days whose records changed, and rebuilt every night; programme-wide and
one-department figures read it, so that one year over a million reports stays well under a
second.

``FunderReport`` keeps every funder report built: its parameters, language, period, status
and progress (polled by the page while it builds), build time, SHA-256 and the PDF itself.
The PDF is stored in the database (``pdf``, deferred so lists never load it): a report is a
few hundred kilobytes, it is backed up with the figures it came from, and every application
worker can serve it without a shared folder. It holds suppressed, aggregated figures only.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.case import Case, CaseEvent, Referral
from backoffice.models.report import Report
from backoffice.models.subscriber import Subscriber

BUILD_STATUSES: dict[str, object] = {
    "queued": _l("Waiting"),
    "running": _l("Building"),
    "done": _l("Ready"),
    "failed": _l("Failed"),
}
BUILD_TRIGGERS: dict[str, object] = {
    "request": _l("On request"),
    "schedule": _l("Scheduled"),
    "command": _l("Command line"),
}

# The rollup's refresh finds what changed since it last ran by these columns; the partial
# index lets "not a report whose victim refused statistics" be checked without a scan.
Index("ix_reports_updated_at", Report.updated_at)
# What changed since the rollup's last refresh is computed live from this index alone on
# PostgreSQL (and an organisation's reports).
Index(
    "ix_reports_department_statistics",
    Report.department,
    Report.received_at,
    postgresql_include=[
        "id",
        "consent_statistics",
        "status",
        "channel",
        "work_context",
        "language",
        "reporter_relation",
        "violence_types",
    ],
)
Index(
    "ix_reports_refused_statistics",
    Report.id,
    postgresql_where=Report.consent_statistics.is_(False),
    sqlite_where=Report.consent_statistics.is_(False),
)
Index("ix_alerts_updated_at", Alert.updated_at)
# The days changed since the rollup's refresh are computed live: their alert events too.
Index("ix_alerts_published_at", Alert.published_at)
Index("ix_alerts_retracted_at", Alert.retracted_at)
Index("ix_alerts_archived_at", Alert.archived_at)
Index("ix_cases_updated_at", Case.updated_at)
Index("ix_case_events_occurred_at", CaseEvent.occurred_at)
Index("ix_referrals_updated_at", Referral.updated_at)
Index("ix_subscribers_updated_at", Subscriber.updated_at)


class StatisticsDaily(Model):
    """One count: day × department (``*``: all) × dimension × value."""

    __tablename__ = "statistics_daily"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    department: Mapped[str] = mapped_column(String(3), nullable=False)
    dimension: Mapped[str] = mapped_column(String(24), nullable=False)
    value: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    count: Mapped[int] = mapped_column(Integer, nullable=False)

    # Every read is "one dimension, all departments or one, a range of days": with value and
    # count in the key too, it is answered from the index alone.
    __table_args__ = (
        Index("ix_statistics_daily_reading", "dimension", "department", "day", "value", "count"),
        Index("ix_statistics_daily_day", "day"),
    )


class StatisticsRefresh(Model):
    """The rollup's single bookkeeping row: when it was last refreshed and rebuilt."""

    __tablename__ = "statistics_refresh"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rebuilt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    days_refreshed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class FunderReport(Model):
    """A funder report built on request, on schedule or by the command."""

    __tablename__ = "funder_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="funder")
    period_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    period_end: Mapped[dt.date] = mapped_column(Date, nullable=False)
    language: Mapped[str] = mapped_column(String(5), nullable=False)
    department: Mapped[str | None] = mapped_column(String(3), nullable=True)
    # Every parameter of the build (period, language, department, threshold, grouping).
    parameters: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    trigger: Mapped[str] = mapped_column(String(10), nullable=False, default="request")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    built_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    build_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))

    requested_by = relationship("StaffUser", foreign_keys=[requested_by_id])

    __table_args__ = (Index("ix_funder_reports_requested_at", "requested_at"),)

    def __repr__(self) -> str:
        return f"FunderReport({self.id}, {self.period_start}–{self.period_end}, {self.language})"

    @property
    def trigger_label(self) -> str:
        return str(BUILD_TRIGGERS.get(self.trigger, self.trigger))

    @property
    def file_name(self) -> str:
        return f"jasmine-report-{self.period_start}-{self.period_end}-{self.language}.pdf"
