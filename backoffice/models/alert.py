"""The alert aggregate, the report's history and the identifier-check counters.

Data classes (DESIGN.md): a *published* alert's text, violence types, departments and
aggressor description are public; its identifiers are lookup data (sealed with the root key,
found through the keyed blind index) because a draft or retracted alert must not expose them.
Report events are restricted (reasons may quote the testimony): moderators only.
``IdentifierCheck`` holds counts per month and kind, never a value or an exact time.

The moderation columns of ``reports`` (claim lock, reviewed redaction, merge target) are
declared here on ``Report`` so that the intake model stays the intake helper's; they come
from migration 0007.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import EncryptedText, TimestampMixin, new_row_uid, utcnow
from backoffice.models.report import Report

ALERT_STATUSES = ("draft", "published", "retracted", "archived")
# "field": a relay, social worker or outreach worker checking for a worker (issue 18.8).
CHECK_SOURCES = ("api", "backoffice", "field")


# --- moderation columns on reports (migration 0007) -------------------------------------------
Report.claimed_by_id = mapped_column(Integer, ForeignKey("ab_user.id"), nullable=True)
Report.claim_expires_at = mapped_column(DateTime, nullable=True)
# When and by whom the reviewed redaction (sealed on the model) was made: publication needs it.
Report.redaction_reviewed_at = mapped_column(DateTime, nullable=True)
Report.redaction_reviewed_by_id = mapped_column(Integer, ForeignKey("ab_user.id"), nullable=True)
Report.merged_into_id = mapped_column(Integer, ForeignKey("reports.id"), nullable=True)
# When the report entered its current status: the queue shows how long it has waited there.
Report.status_changed_at = mapped_column(DateTime, nullable=True)
Report.claimed_by = relationship("StaffUser", foreign_keys=[Report.claimed_by_id])
Report.redaction_reviewed_by = relationship(
    "StaffUser", foreign_keys=[Report.redaction_reviewed_by_id]
)
Report.merged_into = relationship(
    "Report", foreign_keys=[Report.merged_into_id], remote_side=[Report.id]
)
Index("ix_reports_status_received_at", Report.status, Report.received_at)


class Alert(TimestampMixin, Model):
    """The anonymised warning derived from one or more reports."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="draft", index=True)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    # Structured parts, rendered in every alert language from the catalogues.
    severity: Mapped[str] = mapped_column(String(10), nullable=False)
    violence_types: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    departments: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    incident_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    date_precision: Mapped[str] = mapped_column(String(10), nullable=False, default="day")
    work_context: Mapped[str | None] = mapped_column(String(20), nullable=True)
    aggressor_description: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    vehicle: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # The free summary, written in French; other languages in AlertTranslation.
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Details the anonymisation assistant found in the outgoing texts that a moderator marked
    # reviewed, with her reason: [{key, field, type, reason, by, at}]. The key is a blind index
    # of (field, type, value), so no victim detail is stored here (services/text_review.py).
    text_reviews: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    reports_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    # Dispatch to subscribers is another area's job: publication records that it is due.
    dispatch_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    retracted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    retracted_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    retraction_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    created_by = relationship("StaffUser", foreign_keys=[created_by_id])
    published_by = relationship("StaffUser", foreign_keys=[published_by_id])
    retracted_by = relationship("StaffUser", foreign_keys=[retracted_by_id])
    report_links: Mapped[list[AlertReport]] = relationship(
        "AlertReport",
        back_populates="alert",
        cascade="all, delete-orphan",
        order_by="AlertReport.id",
    )
    identifiers: Mapped[list[AlertIdentifier]] = relationship(
        "AlertIdentifier",
        back_populates="alert",
        cascade="all, delete-orphan",
        order_by="AlertIdentifier.id",
    )
    department_rows: Mapped[list[AlertDepartment]] = relationship(
        "AlertDepartment", back_populates="alert", cascade="all, delete-orphan"
    )
    translations: Mapped[list[AlertTranslation]] = relationship(
        "AlertTranslation",
        back_populates="alert",
        cascade="all, delete-orphan",
        order_by="AlertTranslation.language",
    )
    versions: Mapped[list[AlertVersion]] = relationship(
        "AlertVersion",
        back_populates="alert",
        cascade="all, delete-orphan",
        order_by="AlertVersion.number",
    )

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (Index("ix_alerts_status_published_at", "status", "published_at"),)

    def __repr__(self) -> str:
        return self.reference

    @property
    def version_number(self) -> int:
        """The current version's number: 1 as first published, one more per change."""
        return len(self.versions) + 1

    @property
    def reports(self) -> list[Report]:
        return [link.report for link in self.report_links]


class AlertReport(Model):
    """One report backing an alert (corroboration: several reports, one aggressor)."""

    __tablename__ = "alert_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), nullable=False, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    alert: Mapped[Alert] = relationship("Alert", back_populates="report_links")
    report: Mapped[Report] = relationship("Report")

    __table_args__ = (UniqueConstraint("alert_id", "report_id"),)


class AlertDepartment(Model):
    """A department an alert concerns: the feed filters on it with an indexed join."""

    __tablename__ = "alert_departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    department: Mapped[str] = mapped_column(String(3), nullable=False, index=True)

    alert: Mapped[Alert] = relationship("Alert", back_populates="department_rows")

    __table_args__ = (UniqueConstraint("alert_id", "department"),)


class AlertIdentifier(Model):
    """An aggressor identifier the moderator chose to publish with the alert.

    Sealed with the root key (lookup class) and bound to this row; the check finds it by
    ``(kind, blind_index)`` only, and only while its alert is published and unexpired.
    """

    __tablename__ = "alert_identifiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    blind_index: Mapped[str] = mapped_column(String(32), nullable=False)
    value_sealed: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    row_uid: Mapped[str] = mapped_column(
        String(32), default=new_row_uid, nullable=False, unique=True
    )
    platform: Mapped[str | None] = mapped_column(String(80), nullable=True)

    alert: Mapped[Alert] = relationship("Alert", back_populates="identifiers")

    __table_args__ = (
        Index("ix_alert_identifiers_kind_blind_index", "kind", "blind_index"),
        UniqueConstraint("alert_id", "kind", "blind_index"),
    )

    def __repr__(self) -> str:
        return f"AlertIdentifier({self.kind})"


class AlertTranslation(Model):
    """A hand translation of an alert's French summary into another alert language."""

    __tablename__ = "alert_translations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    language: Mapped[str] = mapped_column(String(5), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    translated_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    alert: Mapped[Alert] = relationship("Alert", back_populates="translations")

    __table_args__ = (UniqueConstraint("alert_id", "language"),)


class IdentifierCheck(Model):
    """How many identifier checks were made: per month, kind, outcome and client.

    One counter row per combination (``count`` is incremented), so nothing records which
    value was checked nor when exactly. ``api_client_id`` is 0 for back-office checks; it is
    not a foreign key so that counts outlive a deleted client.
    """

    __tablename__ = "identifier_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, nullable=False)  # first day of the month
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    matched: Mapped[bool] = mapped_column(nullable=False)
    source: Mapped[str] = mapped_column(String(12), nullable=False)
    api_client_id: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (UniqueConstraint("month", "kind", "matched", "source", "api_client_id"),)


class AlertVersion(Model):
    """A superseded version of a published alert (issue 18.6): what it said before a
    correction or a strengthening, who changed it, when and what changed.

    The public parts (texts, severity, types) are kept as they were published; the identifiers
    it published are lookup data, sealed together with the root key and bound to this row
    (``identifiers_sealed``, a JSON list of [kind, normalised value]). ``number`` is the
    superseded version's number (1 = as first published); the alert's current number is one
    more than its last version's. ``changes`` names the parts that changed, never a value.
    """

    __tablename__ = "alert_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    # "correction" (a mistake put right) or "strengthening" (a later report attached).
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    snapshot: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    identifiers_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    row_uid: Mapped[str] = mapped_column(
        String(32), default=new_row_uid, nullable=False, unique=True
    )
    changes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When it was superseded, by whom, and how many notices the change queued.
    superseded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    notices: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    alert: Mapped[Alert] = relationship("Alert", back_populates="versions")
    superseded_by = relationship("StaffUser", foreign_keys=[superseded_by_id])

    __table_args__ = (UniqueConstraint("alert_id", "number"),)

    def __repr__(self) -> str:
        return f"AlertVersion({self.number})"
