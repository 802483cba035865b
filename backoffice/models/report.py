"""The report aggregate: a testimony of violence as received, and what intake derives from it.

Data classes (DESIGN.md): exact place and time are *restricted* (clear, shown to moderators
only); the narrative, the victim's pseudonym and contact details are *confidential* (sealed
with the report's own data key, so erasing the key erases them; a narrative often holds her
own phone, name or address, so it never sits in a column or a backup in clear; only the
redacted alert text is clear); the aggressor's identifiers
are *lookup* data (sealed with the root key, so they survive the erasure of the victim's data,
and found through a keyed blind index, never by clear value).
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import (
    ConfidentialRecord,
    EncryptedText,
    TimestampMixin,
    new_row_uid,
    utcnow,
)
from backoffice.services.confidential import Sealed, SealedJSON

REPORT_STATUS_RECEIVED = "received"
REDACTION_STATUSES = ("pending", "proposed", "failed")
DATE_PRECISIONS = ("day", "week", "month")

# Sealed columns of a report: what crypto-shredding of the victim's data clears.
# Her contact (erased first by retention) and, with her testimony, all she gave of herself.
CONTACT_SEALED_COLUMNS = [
    "victim_pseudonym_sealed",
    "victim_phone_sealed",
    "victim_email_sealed",
    "victim_preferred_language_sealed",
]
VICTIM_SEALED_COLUMNS = [*CONTACT_SEALED_COLUMNS, "narrative_sealed"]
# The redaction texts quote the narrative: erased with it (the key goes, so do they).
REDACTION_SEALED_COLUMNS = ["redaction_proposal_sealed", "redaction_reviewed_sealed"]


class Report(ConfidentialRecord, TimestampMixin, Model):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=REPORT_STATUS_RECEIVED, index=True
    )
    # Optimistic locking: an UPDATE that finds another version raises StaleDataError.
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)

    # The incident (restricted: exact place and time).
    incident_date: Mapped[dt.date] = mapped_column(Date, nullable=False, index=True)
    incident_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    date_precision: Mapped[str] = mapped_column(String(10), nullable=False, default="day")
    department: Mapped[str] = mapped_column(String(3), nullable=False, index=True)
    city: Mapped[str | None] = mapped_column(String(120), nullable=True)
    work_context: Mapped[str | None] = mapped_column(String(20), nullable=True)
    violence_types: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    severity: Mapped[str] = mapped_column(String(10), nullable=False)

    # Her testimony (confidential): read through ``narrative``, audited.
    narrative_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    narrative = Sealed()
    aggressor_description: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # Make, model, colour; the plate is an identifier (ReportIdentifier of kind "plate").
    vehicle: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    # The victim (confidential).
    victim_pseudonym_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_phone_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_email_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_preferred_language_sealed: Mapped[str | None] = mapped_column(
        EncryptedText, nullable=True
    )
    victim_pseudonym = Sealed()
    victim_phone = Sealed()
    victim_email = Sealed()
    victim_preferred_language = Sealed()

    # Consents, item by item, as she gave them.
    consent_publish_alert: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    consent_follow_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    consent_share_with_partner: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    consent_statistics: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Only if she asks: passing the aggressor's details (never hers) to the police or a lawyer.
    consent_police_or_lawyer: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    # Who sent it.
    reporter_relation: Mapped[str | None] = mapped_column(String(10), nullable=True)
    filing_organisation_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id"), nullable=True, index=True
    )
    filed_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=True
    )
    api_client_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("api_clients.id"), nullable=True
    )
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, index=True
    )

    # The anonymisation assistant's proposal and the moderator's reviewed redaction
    # ({"text": ..., "spans": [...]}): both quote her testimony, so both are sealed like it.
    redaction_status: Mapped[str] = mapped_column(
        String(10), nullable=False, default="pending", index=True
    )
    redaction_proposal_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    redaction_proposal = SealedJSON()
    redaction_reviewed_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    redaction_reviewed = SealedJSON()

    # The retention schedule (services/retention.py): when each rule was applied.
    contact_erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    testimony_shredded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    coarsened_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    filing_organisation = relationship("Organisation", foreign_keys=[filing_organisation_id])
    filed_by = relationship("StaffUser", foreign_keys=[filed_by_id])
    api_client = relationship("ApiClient", foreign_keys=[api_client_id])
    identifiers: Mapped[list[ReportIdentifier]] = relationship(
        "ReportIdentifier",
        back_populates="report",
        cascade="all, delete-orphan",
        order_by="ReportIdentifier.id",
    )

    __mapper_args__ = {"version_id_col": version_id}
    # The home page: waiting reports by severity, the oldest first (services/home.py).
    __table_args__ = (
        Index("ix_reports_status_severity", "status", "severity"),
        Index("ix_reports_status_received", "status", "received_at"),
    )

    def __repr__(self) -> str:
        return self.reference


class ReportIdentifier(Model):
    """One identifier of the aggressor, as declared in one report.

    ``value_sealed`` is sealed with the root key (lookup class), bound to this row's
    ``row_uid``; ``blind_index`` is the keyed HMAC of the normalised value for its kind.
    """

    __tablename__ = "report_identifiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    blind_index: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    value_sealed: Mapped[str] = mapped_column(EncryptedText, nullable=False)
    row_uid: Mapped[str] = mapped_column(
        String(32), default=new_row_uid, nullable=False, unique=True
    )
    # Where a pseudonym was seen (an ad site, a network): context, not identifying alone.
    platform: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    report: Mapped[Report] = relationship("Report", back_populates="identifiers")

    __table_args__ = (Index("ix_report_identifiers_kind_blind_index", "kind", "blind_index"),)

    def __repr__(self) -> str:
        return f"ReportIdentifier({self.kind})"


class ReportEvent(Model):
    """One step of a report's history: who, when, from which status to which, and why."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(128), nullable=False, default="system")
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Codes and references only (an alert's or a merge target's reference).
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    report: Mapped[Report] = relationship("Report")

    # The home page's answers received (``info_added``), without reading every event.
    __table_args__ = (
        Index("ix_report_events_action_report", "action", "report_id", "occurred_at"),
    )

    def __repr__(self) -> str:
        return f"{self.action} {self.from_status}->{self.to_status}"


class ReferenceCounter(Model):
    """The last number handed out per prefix and year (``J-2026-000123``)."""

    __tablename__ = "reference_counters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (UniqueConstraint("prefix", "year"),)


class IdempotencyRecord(Model):
    """The first answer given to an API request carrying an ``Idempotency-Key``."""

    __tablename__ = "api_idempotency"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_client_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("api_clients.id"), nullable=False
    )
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    # SHA-256 of the request body: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response_json: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False, index=True
    )

    __table_args__ = (UniqueConstraint("api_client_id", "key"),)
