"""Partner associations. Every staff user belongs to one."""

from __future__ import annotations

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import TimestampMixin

ORGANISATION_KINDS = {
    "programme": _l("Programme coordination"),
    "community": _l("Community association"),
    "health": _l("Health association"),
    "support": _l("Support association"),
    "other": _l("Other"),
}


class Organisation(TimestampMixin, Model):
    __tablename__ = "organisations"
    __table_args__ = (Index("uq_organisations_referral_code", "referral_code", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="community")
    departments: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    contact_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Partner associations receive the full alert for their departments at this address.
    alert_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Given by the partner to the workers it co-opts: a self-registration with this code
    # starts active, in this organisation (services/registration.py).
    # Unique through an index: SQLite adds one without rebuilding the table (which a table
    # that others reference cannot survive with foreign keys on).
    referral_code: Mapped[str | None] = mapped_column(String(40), nullable=True)

    def __repr__(self) -> str:
        return self.name

    @property
    def departments_label(self) -> str:
        return ", ".join(self.departments or []) or "—"
