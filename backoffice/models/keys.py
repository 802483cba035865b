"""Record data keys, stored only wrapped by a root key kept outside the database."""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import utcnow


class DataKey(Model):
    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), nullable=False)
    wrapped_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    root_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def is_destroyed(self) -> bool:
        return self.wrapped_key is None

    def __repr__(self) -> str:
        return f"DataKey({self.id}, {self.purpose})"
