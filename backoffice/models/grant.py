"""Grant requests: a change that opens confidential data waits for a second Admin.

A request records who asked, about whom, what kind of change, the state before and after
(role names and organisation ids and names: no personal data), and who decided when. A
password chosen by the requester is kept only as its hash, and only until the decision.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import TimestampMixin

ROLES = "roles"
ORGANISATION = "organisation"
SECOND_FACTOR_RESET = "second_factor_reset"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of request, not a password
KINDS = (ROLES, ORGANISATION, SECOND_FACTOR_RESET, PASSWORD_RESET)

PENDING = "pending"
APPROVED = "approved"
REFUSED = "refused"
STATES = (PENDING, APPROVED, REFUSED)


class GrantRequest(TimestampMixin, Model):
    __tablename__ = "grant_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=False, index=True
    )
    target_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    before: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    after: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=PENDING, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=True
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The new password's hash (scrypt), until the decision; never shown nor audited.
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)

    requester = relationship("StaffUser", foreign_keys=[requester_id])
    target = relationship("StaffUser", foreign_keys=[target_id])
    decided_by = relationship("StaffUser", foreign_keys=[decided_by_id])

    def __repr__(self) -> str:
        return f"{self.kind} #{self.id}"
