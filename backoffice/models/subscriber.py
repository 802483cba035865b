"""Subscribers (registered workers who receive alerts) and the delivery outbox.

Data classes (DESIGN.md):

* confidential — a subscriber's SMS number and email address, sealed with her own data key
  (``ConfidentialRecord``) and found only through keyed blind indexes (``phone_index``,
  ``email_index``), which are unique: the same number or address cannot be registered twice.
  Unsubscribing ends in crypto-shredding of both (``services.subscribers``).
* clear — her pseudonym (a programme name she chooses, shown to her organisation's staff so
  they recognise her; the form asks for one that is not her working name), language,
  departments, status and dates: what the fan-out query and the counts need.

``Delivery`` is the transactional outbox: one row per recipient and channel of an alert,
written in the publication's transaction, then claimed, sent and recorded by the dispatch
workers (``services.dispatch``). It holds no contact detail and no message text: the message
is rendered at send time, the address decrypted at send time. ``last_error`` holds our own
short reason and a scrubbed server answer, never an address or a number.

``apscheduler_jobs`` is APScheduler's job store, declared here with the exact definition of
``SQLAlchemyJobStore`` so that it comes from a migration (0008) like every other table.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.alert import Alert
from backoffice.models.base import (
    ConfidentialRecord,
    EncryptedText,
    OrganisationOwned,
    TimestampMixin,
    utcnow,
)
from backoffice.models.organisation import Organisation
from backoffice.services.confidential import Sealed

SUBSCRIBER_STATUSES: dict[str, object] = {
    "pending": _l("Waiting for validation"),
    "active": _l("Receives alerts"),
    "paused": _l("Alerts paused"),
    "unsubscribed": _l("Unsubscribed"),
}
UNSUBSCRIBE_SOURCES: dict[str, object] = {
    "sms_stop": _l("Replied STOP to an SMS"),
    "email_link": _l("Link in an email"),
    "staff": _l("By her organisation"),
}
CHANNELS: dict[str, object] = {"sms": _l("SMS"), "email": _l("Email")}
DELIVERY_STATUSES: dict[str, object] = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
# What a delivery carries: an alert, or a notice to one subscriber (welcome after validation,
# goodbye after STOP). Notices have no alert.
DELIVERY_PURPOSES = ("alert", "welcome", "goodbye")
FINAL_STATUSES = ("sent", "failed", "cancelled")


class Subscriber(OrganisationOwned, ConfidentialRecord, TimestampMixin, Model):
    """A registered worker, co-opted by a partner association (``organisation_id``)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(80), nullable=False)
    phone_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    phone_index: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    email_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    email_index: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    language: Mapped[str] = mapped_column(String(5), nullable=False, default="fr")
    all_departments: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="pending", index=True)
    # The unsubscribe link's token is HMAC(server key, salt): reproducible for every email,
    # useless without the key; only its SHA-256 is stored, to find her from the link.
    unsubscribe_salt: Mapped[str] = mapped_column(String(32), nullable=False)
    unsubscribe_token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    validated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    validated_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    unsubscribe_source: Mapped[str | None] = mapped_column(String(12), nullable=True)
    contact_erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )

    phone = Sealed()
    email = Sealed()

    department_rows: Mapped[list[SubscriberDepartment]] = relationship(
        "SubscriberDepartment",
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="SubscriberDepartment.department",
    )
    validated_by = relationship("StaffUser", foreign_keys=[validated_by_id])
    created_by = relationship("StaffUser", foreign_keys=[created_by_id])

    def __repr__(self) -> str:
        return self.pseudonym

    @property
    def departments(self) -> list[str]:
        return [row.department for row in self.department_rows]

    @property
    def departments_label(self) -> str:
        if self.all_departments:
            return str(_l("All of France"))
        return ", ".join(self.departments) or "—"

    @property
    def status_label(self) -> str:
        return str(SUBSCRIBER_STATUSES.get(self.status, self.status))

    @property
    def channels(self) -> list[str]:
        return [c for c, index in (("sms", self.phone_index), ("email", self.email_index)) if index]

    @property
    def channels_label(self) -> str:
        return ", ".join(str(CHANNELS[c]) for c in self.channels) or "—"


class SubscriberDepartment(Model):
    """A department whose alerts a subscriber receives (indexed for the fan-out query)."""

    __tablename__ = "subscriber_departments"

    subscriber_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    department: Mapped[str] = mapped_column(String(3), primary_key=True, index=True)

    subscriber: Mapped[Subscriber] = relationship("Subscriber", back_populates="department_rows")


class Delivery(Model):
    """One message to one recipient on one channel: the outbox row and its outcome.

    ``recipient_key`` is ``s<subscriber id>`` or ``o<organisation id>`` so that one unique
    constraint covers both kinds of recipient. ``idempotency_key`` is random, fixed at
    enqueue time, and given to the channel (Message-ID, gateway client reference) so that a
    resend after a crash is recognised as the same message.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key on alert_id and partner_id, on purpose: PostgreSQL checks a foreign key
    # row by row, which was a third of the fan-out's time at 100,000 rows. Only
    # ``enqueue_alert`` writes these, for the alert being published; alerts that have
    # deliveries are never deleted (only drafts are), the retention job deletes deliveries
    # first, and the dispatcher cancels a delivery whose alert or partner is missing.
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purpose: Mapped[str] = mapped_column(String(10), nullable=False, default="alert")
    recipient_key: Mapped[str] = mapped_column(String(24), nullable=False)
    subscriber_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    language: Mapped[str] = mapped_column(String(5), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Due time when queued; end of the worker's lease when sending (a crashed worker's rows
    # become claimable again once it passes).
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    error_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    segments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    alert: Mapped[Alert | None] = relationship(
        "Alert", primaryjoin="foreign(Delivery.alert_id) == Alert.id", viewonly=True
    )
    subscriber: Mapped[Subscriber | None] = relationship("Subscriber")
    partner: Mapped[Organisation | None] = relationship(
        "Organisation", primaryjoin="foreign(Delivery.partner_id) == Organisation.id", viewonly=True
    )

    __table_args__ = (
        UniqueConstraint("alert_id", "recipient_key", "channel"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_alert_id_status", "alert_id", "status"),
    )

    def __repr__(self) -> str:
        return f"Delivery({self.id}, {self.channel}, {self.status})"

    @property
    def status_label(self) -> str:
        return str(DELIVERY_STATUSES.get(self.status, self.status))


class AlertDispatch(Model):
    """That an alert's outbox was written (even to nobody), and when: the fan-out runs once."""

    __tablename__ = "alert_dispatches"

    alert_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    enqueued_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


# APScheduler 3's SQLAlchemyJobStore table, column for column (apscheduler/jobstores/
# sqlalchemy.py): 191 is MySQL's key limit, Float(25) an 8-byte float.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Model.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
