"""Notices to staff (issue 18, item 3): what happened that someone must look at, for whom.

A ``StaffNotice`` is one notice to one staff user, shown on her « Mes notifications » page
and sent through the outbox (``Delivery`` rows with ``purpose="staff"``, one per channel she
chose). ``key`` (rule, object, recipient) is unique: a rule that runs again, or a job that
is retried, never notifies anyone twice. A notice holds a reference, a level and a link,
never personal data: the text is rendered from these at send time.

``StaffNoticeSettings`` is each user's own choice: channels, quiet hours (local time of her
organisation) and "on duty"; her SMS number is sealed, bound to her account.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import utcnow

# The rules (services/staff_notices.py) and the levels of their notices.
NOTICE_RULES = ("danger", "unclaimed", "deadline", "deadline_soon", "answer")
NOTICE_LEVELS = ("urgent", "important", "info")


class StaffNotice(Model):
    __tablename__ = "staff_notices"
    __table_args__ = (Index("ix_staff_notices_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "<rule>:<object>:u<user id>": one notice per rule, object and recipient, ever.
    key: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False
    )
    rule: Mapped[str] = mapped_column(String(16), nullable=False)
    level: Mapped[str] = mapped_column(String(10), nullable=False)
    # What it is about: a report's or a case's reference, and the page to open (a path).
    reference: Mapped[str] = mapped_column(String(20), nullable=False)
    path: Mapped[str] = mapped_column(String(120), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # When it may be sent: now, or the end of her quiet hours for a non-urgent one.
    due_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    user = relationship("StaffUser", foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"StaffNotice({self.rule}, {self.reference})"


class StaffNoticeSettings(Model):
    """One user's choices; a user without a row gets the defaults (``services.staff_notices``)."""

    __tablename__ = "staff_notice_settings"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True
    )
    by_email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    by_sms: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Her own mobile for notices (E.164), sealed with a root-derived key bound to her account.
    phone_sealed: Mapped[str | None] = mapped_column(String(400), nullable=True)
    quiet_start: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    quiet_end: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
