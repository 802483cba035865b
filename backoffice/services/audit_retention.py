"""Audit retention: read events are pruned after ``AUDIT_READ_RETENTION_MONTHS``, staff and
admin changes after ``AUDIT_CHANGE_RETENTION_MONTHS`` (issue 13, item 3).

Pruning keeps the chain verifiable. It first exports a signed checkpoint of the head (outside
the database), then turns each due event into a *tombstone*: its actor, object and details are
cleared and ``pruned_at`` set, while its id, chain position, time, action and seal stay.
``audit.verify_chain`` does not recompute a tombstone's seal but chains the next event onto
it, so deleting a tombstone (a gap) or altering its seal (the next seal) is still detected.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, func, not_, or_, select, update

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.services import audit

BATCH = 1000

log = logging.getLogger(__name__)


def _read_clause() -> ColumnElement[bool]:
    return or_(
        AuditEvent.action.in_(audit.READ_ACTIONS), AuditEvent.action.like(f"%{audit.READ_SUFFIX}")
    )


def _due(now: dt.datetime | None) -> ColumnElement[bool]:
    read_cutoff, change_cutoff = audit.retention_cutoffs(now)
    return and_(
        AuditEvent.pruned_at.is_(None),
        AuditEvent.chain_index.is_not(None),
        or_(
            and_(_read_clause(), AuditEvent.occurred_at < read_cutoff),
            and_(not_(_read_clause()), AuditEvent.occurred_at < change_cutoff),
        ),
    )


@dataclass
class PruneCounts:
    reads: int
    changes: int

    @property
    def total(self) -> int:
        return self.reads + self.changes


def preview(now: dt.datetime | None = None) -> PruneCounts:
    """What a run would prune, in counts."""

    def count(kind: ColumnElement[bool]) -> int:
        return db.session.scalar(select(func.count()).where(_due(now), kind)) or 0

    counts = {True: count(_read_clause()), False: count(not_(_read_clause()))}
    return PruneCounts(reads=counts.get(True, 0), changes=counts.get(False, 0))


def prune(now: dt.datetime | None = None) -> PruneCounts:
    """The retention job: checkpoint, then tombstone every due event (the caller commits).

    Without ``AUDIT_CHECKPOINT_DIR`` nothing is pruned: the checkpoint is what lets ``verify``
    vouch for the trail as it was before the payloads went.
    """
    counts = preview(now)
    if not counts.total:
        return counts
    if audit.export_checkpoint() is None:
        log.warning("Audit retention skipped: no AUDIT_CHECKPOINT_DIR for the checkpoint.")
        return PruneCounts(0, 0)
    _tombstone(now)
    audit.record(
        "audit_pruned",
        object_type="AuditEvent",
        details={"reads": counts.reads, "changes": counts.changes},
    )
    return counts


def _tombstone(now: dt.datetime | None) -> None:
    """Clear the payload of every due event, in chain order and in batches."""
    table = AuditEvent.__table__
    due = select(AuditEvent.id, AuditEvent.chain_index, AuditEvent.seal).where(_due(now))
    rows = db.session.execute(due.order_by(AuditEvent.chain_index)).all()
    moment = utcnow()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        previous = _seals_before([row.chain_index for row in batch])
        values = [
            {
                "row_id": row.id,
                "link": {"link": audit.tombstone_link(row.chain_index, row.seal, previous[i])},
            }
            for i, row in enumerate(batch)
        ]
        # Core UPDATE: the ORM refuses changes to audit events; PostgreSQL's trigger lets
        # exactly this clearing update through.
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(
                actor_id=None,
                actor_name="pruned",
                object_id=None,
                details=bindparam("link"),
                pruned_at=moment,
            ),
            values,
        )


def _seals_before(indexes: list[int]) -> list[str]:
    wanted = [index - 1 for index in indexes]
    seals = dict(
        db.session.execute(
            select(AuditEvent.chain_index, AuditEvent.seal).where(
                AuditEvent.chain_index.in_(wanted)
            )
        ).all()
    )
    return [audit.GENESIS if index == 0 else seals.get(index) or "" for index in wanted]


def prune_job() -> dict[str, int]:
    counts = prune()
    return {"reads": counts.reads, "changes": counts.changes}
