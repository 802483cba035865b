"""Mixins and column types shared by the aggregates.

Times are stored as naive UTC (``utcnow``): SQLite has no time zones, and one convention on
both databases keeps comparisons right.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from backoffice.services.crypto import is_token


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_row_uid() -> str:
    return uuid.uuid4().hex


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class OrganisationOwned:
    """A row that belongs to one partner association.

    Every query for such rows goes through ``backoffice.security.scoped`` (services) or a
    ``ScopedModelView`` (FAB views), which add ``organisation_id = <the user's>``.
    """

    __organisation_owned__ = True

    @declared_attr
    def organisation_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("organisations.id"), nullable=False, index=True)

    @declared_attr
    def organisation(cls):
        return relationship("Organisation", foreign_keys=[cls.organisation_id])


class EncryptedText(TypeDecorator):
    """A column that only ever holds ciphertext tokens.

    Writing anything else raises, so a forgotten encryption step fails loudly instead of
    storing clear text.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and not is_token(value):
            raise ValueError("Refusing to store clear text in an encrypted column.")
        return value


class ConfidentialRecord:
    """A row whose confidential fields are sealed with its own data key.

    ``row_uid`` is set on creation (before the primary key exists) and binds ciphertexts to
    the row. Destroying the data key erases every sealed field of the row.
    """

    @declared_attr
    def row_uid(cls) -> Mapped[str]:
        return mapped_column(String(32), default=new_row_uid, nullable=False, unique=True)

    @declared_attr
    def data_key_id(cls) -> Mapped[int | None]:
        return mapped_column(Integer, ForeignKey("data_keys.id"), nullable=True)

    @declared_attr
    def data_key(cls):
        return relationship("DataKey", foreign_keys=[cls.data_key_id])
