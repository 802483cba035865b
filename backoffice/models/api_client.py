"""Clients of the public API (website, app, partner tools), authenticated by a bearer key."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import TimestampMixin


class ApiClient(TimestampMixin, Model):
    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The key is shown once; only its prefix (to tell keys apart) and hash are stored.
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # Identifier checks a minute for the whole client (all its workers together); None: the
    # default API_CHECK_CLIENT_RATE_LIMIT. Set by an Admin.
    check_rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # After a rotation, the previous key keeps working until this moment (a grace period
    # the Admin chose, so that the client's maintainer can deploy the new one).
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    previous_key_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # Deleting a client keeps its row (its reports and checks refer to it): it is only marked.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return self.name
