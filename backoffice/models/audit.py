"""The audit trail: who did what, when, on which object. Never personal data in clear.

Rows are append-only: the ORM refuses updates and deletes, PostgreSQL refuses them with a
trigger, and each row carries an HMAC seal over its content, its place in the chain
(``chain_index``) and the previous row's seal, so an edit, a deletion, an insertion, a
reordering or an unsealed row made behind the application's back is detected by
``flask --app wsgi audit verify``. ``AuditChainHead`` is one row that appenders lock, so two
transactions never chain onto the same predecessor.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import utcnow


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor_name: Mapped[str] = mapped_column(String(128), nullable=False, default="system")
    organisation_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    object_type: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False, default="success")
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # 1, 2, 3…: the row's place in the chain; its seal covers it and the previous seal.
    chain_index: Mapped[int | None] = mapped_column(
        BigInteger, nullable=True, unique=True, index=True
    )
    # Set by the audit retention job: actor, object and details cleared, place and seal kept
    # (a tombstone; ``verify`` chains through it without recomputing its seal).
    pruned_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"{self.action} {self.object_type or ''} {self.object_id or ''}".strip()


class AuditChainHead(Model):
    """One row (id 1): the chain's tail, and its lock.

    A database trigger (migration ``20261207_seal_2``) keeps ``last_index`` and ``last_seal``
    on the newest event; an appender's ``UPDATE … RETURNING`` on this row takes the lock and
    reads the tail in one statement (PostgreSQL re-reads the row once the lock is granted).
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_index: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_changes(_mapper, _connection, _target) -> None:
    raise PermissionError("Audit events are append-only.")
