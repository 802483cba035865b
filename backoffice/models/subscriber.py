"""Subscribers: registered workers who receive alerts.

Data classes (DESIGN.md):

* confidential — a subscriber's SMS number and email address, sealed with her own data key
  (``ConfidentialRecord``) and found only through keyed blind indexes (``phone_index``,
  ``email_index``), which are unique: the same number or address cannot be registered twice.
  Unsubscribing ends in crypto-shredding of both (``services.subscribers``).
* sealed with the root key — her pseudonym (a programme name she chooses, shown to her
  organisation's staff so they recognise her; she may still type a name that identifies
  her): never clear at rest, and it outlives the shredding of her contact details.
* clear — language, departments, status and dates: what the fan-out query and the counts
  need.

What is sent to them (the outbox, ``Delivery``) lives beside the dispatch, in
``models/dispatch.py``.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import (
    ConfidentialRecord,
    EncryptedText,
    OrganisationOwned,
    TimestampMixin,
)
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
    "worker": _l("By herself, in the app or on the site"),
}
CHANNELS: dict[str, object] = {"sms": _l("SMS"), "email": _l("Email")}


class Subscriber(OrganisationOwned, ConfidentialRecord, TimestampMixin, Model):
    """A registered worker, co-opted by a partner association (``organisation_id``)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym_sealed: Mapped[str] = mapped_column(EncryptedText, nullable=False)
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
    # Her choices through the API: alert SMS as a neutral line (no violence words on a lock
    # screen), and the one channel alerts go to (None: every channel she gave).
    discreet: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    channel: Mapped[str | None] = mapped_column(String(5), nullable=True)

    phone = Sealed()
    email = Sealed()
    # Shown on every page about her to her organisation's staff: not audited per read.
    pseudonym = Sealed(audited=False, root=True)

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
