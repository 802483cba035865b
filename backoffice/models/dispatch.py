"""The dispatch of alerts and notices: the outbox (``Delivery``) and the record that an
alert's fan-out ran (``AlertDispatch``).

``Delivery`` is the transactional outbox: one row per recipient and channel of an alert,
written in the publication's transaction (``services.outbox``), then claimed, sent and
recorded by the dispatch workers (``services.dispatch``). It holds no contact detail and no
message text: the message is rendered at send time, the address decrypted at send time.
``last_error`` holds our own short reason and a scrubbed server answer, never an address or
a number.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.organisation import Organisation
from backoffice.models.staff_notice import StaffNotice
from backoffice.models.subscriber import Subscriber

DELIVERY_STATUSES: dict[str, object] = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
# What a delivery carries: an alert, or a notice to one subscriber (welcome after validation,
# goodbye after STOP). Notices have no alert.
# "staff": a notice to a staff user (``StaffNotice``), through the same workers.
# "correction" and "update" tell those who received an alert that it was corrected or
# strengthened (issue 18.6); they carry the alert and the version they announce.
REVISION_PURPOSES = ("correction", "update")
DELIVERY_PURPOSES = ("alert", "welcome", "goodbye", "manage", "staff", *REVISION_PURPOSES)
FINAL_STATUSES = ("sent", "failed", "cancelled")


class Delivery(Model):
    """One message to one recipient on one channel: the outbox row and its outcome.

    ``recipient_key`` is ``s<subscriber id>``, ``o<organisation id>`` or ``u<staff user id>``
    (a staff notice, unique per notice and channel) so that one unique
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
    # The alert's version this message carries: 1 for the alert itself, n for the notice of
    # its n-th version (a correction or an update); one message per recipient and version.
    alert_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default="1"
    )
    recipient_key: Mapped[str] = mapped_column(String(24), nullable=False)
    subscriber_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A notice to a staff user (recipient ``u<user id>``): its text is rendered at send time.
    staff_notice_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("staff_notices.id", ondelete="CASCADE"), nullable=True, index=True
    )
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
    # The send attempt on the wire and how far it got (``services.dispatch``): "crossing"
    # (nothing can have been accepted yet) or "in_doubt" (past the point of no return).
    attempt_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wire_state: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # The provider's delivery receipt (SMS): delivered, failed or pending, and when.
    receipt_status: Mapped[str | None] = mapped_column(String(12), nullable=True)
    receipt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    alert: Mapped[Alert | None] = relationship(
        "Alert", primaryjoin="foreign(Delivery.alert_id) == Alert.id", viewonly=True
    )
    subscriber: Mapped[Subscriber | None] = relationship("Subscriber")
    staff_notice: Mapped[StaffNotice | None] = relationship("StaffNotice")
    partner: Mapped[Organisation | None] = relationship(
        "Organisation", primaryjoin="foreign(Delivery.partner_id) == Organisation.id", viewonly=True
    )

    __table_args__ = (
        UniqueConstraint("alert_id", "alert_version", "recipient_key", "channel"),
        UniqueConstraint("staff_notice_id", "channel"),
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
