"""Staff accounts: FAB's user, with an organisation and session security fields."""

from __future__ import annotations

import secrets

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship


def new_session_token() -> str:
    return secrets.token_hex(16)


class StaffUser(User):
    __tablename__ = "ab_user"
    __table_args__ = {"extend_existing": True}

    organisation_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id"), nullable=True, index=True
    )
    organisation = relationship("Organisation", foreign_keys=[organisation_id])
    # Part of the login cookie: changing it (logout, password change, lock) ends every
    # session of the account on the server side, which signed cookies alone cannot do.
    session_token: Mapped[str] = mapped_column(
        String(32), nullable=False, default=new_session_token
    )
    # The TOTP secret, sealed; the one being enrolled (kept here, never in the cookie, until
    # the user proves the app has it); the last time step accepted (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(400), nullable=True)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(400), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    def get_id(self) -> str:
        return f"{self.id}.{self.session_token}"

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}

    def has_role(self, *names: str) -> bool:
        return bool(self.role_names & set(names))
