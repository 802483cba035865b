"""audit tombstones: a pruned event keeps its place and seal, loses its payload

``audit_events.pruned_at`` marks an event whose actor, object and details were cleared by the
audit retention job (``services/audit_retention.py``). On PostgreSQL the append-only trigger
now lets exactly that clearing update through (``details`` keeps only the tombstone's
link) (once, keeping id, position, seal, time and
action); every other update and every delete is still refused.

Revision ID: 20261207_erasure_1
Revises: 20261207_prod_2
Create Date: 2026-12-07 12:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_erasure_1"
down_revision = "20261207_seal2_1"
branch_labels = None
depends_on = None

_ALLOW_TOMBSTONES = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.pruned_at IS NULL AND NEW.pruned_at IS NOT NULL
       AND NEW.id = OLD.id AND NEW.chain_index IS NOT DISTINCT FROM OLD.chain_index
       AND NEW.seal IS NOT DISTINCT FROM OLD.seal AND NEW.occurred_at = OLD.occurred_at
       AND NEW.action = OLD.action AND NEW.outcome = OLD.outcome
       AND NEW.actor_id IS NULL AND NEW.object_id IS NULL
       AND NEW.details::jsonb - 'link' = '{}'::jsonb THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
"""

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): SQLite keeps the table and its chain trigger.
    op.add_column("audit_events", sa.Column("pruned_at", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_ALLOW_TOMBSTONES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY)
    # Native DROP COLUMN (SQLite 3.35+): no table copy that would lose the chain trigger.
    op.execute("ALTER TABLE audit_events DROP COLUMN pruned_at")
