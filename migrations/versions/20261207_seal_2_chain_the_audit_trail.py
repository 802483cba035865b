"""chain the audit trail

Each audit event's seal now covers its place in the chain (``chain_index``) and the previous
event's seal (issue 12, finding 4): deletion, insertion, reordering and unsealing become
visible to ``flask audit verify``. ``audit_chain_head`` holds the one row appenders lock, and the tail a trigger keeps on it.

Existing events are chained in id order. An event whose old seal does not match its content
was altered before this migration: it is left outside the chain (``chain_index`` NULL), so
verify keeps naming it rather than this migration laundering it. On PostgreSQL the
append-only trigger is disabled for the re-sealing only, inside this transaction.

Needs the keys, like the application (``flask --app wsgi db upgrade``).

Revision ID: 20261207_seal_2
Revises: 20261207_seal_1
Create Date: 2026-12-07 11:20:00
"""

from __future__ import annotations

import hmac
import json
import logging

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "20261207_seal_2"
down_revision = "20261207_seal_1"
branch_labels = None
depends_on = None

BATCH = 1000
GENESIS = "genesis"
log = logging.getLogger("alembic.runtime.migration")

events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("occurred_at", sa.DateTime),
    sa.column("actor_id", sa.Integer),
    sa.column("actor_name", sa.String),
    sa.column("organisation_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.String),
    sa.column("outcome", sa.String),
    sa.column("details", sa.JSON),
    sa.column("seal", sa.String),
    sa.column("chain_index", sa.BigInteger),
)


def _content(row) -> list:
    return [
        row.occurred_at.isoformat(timespec="microseconds"),
        row.actor_id,
        row.actor_name,
        row.organisation_id,
        row.action,
        row.object_type,
        row.object_id,
        row.outcome,
        row.details or {},
    ]


def _digest(keyring, content: list) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return keyring.blind_index("audit-seal", text)


def _old_seal_holds(keyring, row) -> bool:
    # Rows written without keys carry no seal: nothing says they were altered.
    return row.seal is None or hmac.compare_digest(row.seal, _digest(keyring, _content(row)))


def _chain_existing(connection) -> None:
    keyring = current_app.extensions["keyring"]
    total = connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    previous, index, last_id, done, left_out = GENESIS, 0, 0, 0, 0
    while True:
        batch = connection.execute(
            sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(BATCH)
        ).all()
        if not batch:
            break
        for row in batch:
            if not _old_seal_holds(keyring, row):
                left_out += 1
                log.warning("Audit event %s was altered before chaining: left out", row.id)
                continue
            index += 1
            seal = _digest(keyring, [*_content(row), index, previous])
            connection.execute(
                sa.update(events)
                .where(events.c.id == row.id)
                .values(chain_index=index, seal=seal)
            )
            previous = seal
        done, last_id = done + len(batch), batch[-1].id
        log.info("Chained %d of %d audit events (%d left out)", done, total, left_out)


def upgrade():
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_index", sa.BigInteger(), nullable=False),
        sa.Column("last_seal", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.execute("INSERT INTO audit_chain_head (id, last_index) VALUES (1, 0)")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_index", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_chain_index"), ["chain_index"], unique=True)
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
    _chain_existing(op.get_bind())
    if postgresql:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
    _keep_the_tail_on_the_head(postgresql)


def _keep_the_tail_on_the_head(postgresql: bool) -> None:
    """A trigger copies each new event's place and seal onto the head row."""
    op.execute(
        "UPDATE audit_chain_head SET last_index = COALESCE((SELECT max(chain_index) FROM"
        " audit_events), 0), last_seal = (SELECT seal FROM audit_events WHERE chain_index ="
        " (SELECT max(chain_index) FROM audit_events)) WHERE id = 1"
    )
    if postgresql:
        op.execute(
            """
            CREATE FUNCTION audit_chain_advance() RETURNS trigger AS $$
            BEGIN
                UPDATE audit_chain_head SET last_index = NEW.chain_index, last_seal = NEW.seal
                WHERE id = 1 AND NEW.chain_index > last_index;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER audit_chain_advance AFTER INSERT ON audit_events
                FOR EACH ROW WHEN (NEW.chain_index IS NOT NULL)
                EXECUTE FUNCTION audit_chain_advance();
            """
        )
    else:
        op.execute(
            """
            CREATE TRIGGER audit_chain_advance AFTER INSERT ON audit_events
            FOR EACH ROW WHEN NEW.chain_index IS NOT NULL
            BEGIN
                UPDATE audit_chain_head SET last_index = NEW.chain_index, last_seal = NEW.seal
                WHERE id = 1 AND NEW.chain_index > last_index;
            END
            """
        )


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS audit_chain_advance" + (
        " ON audit_events" if op.get_bind().dialect.name == "postgresql" else ""
    ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_chain_advance()")
    # Seals stay chained: the previous verify would report every row as altered, so the
    # downgrade only removes the column and the head; re-seal with the previous code if needed.
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_chain_index"))
        batch_op.drop_column("chain_index")
    op.drop_table("audit_chain_head")
