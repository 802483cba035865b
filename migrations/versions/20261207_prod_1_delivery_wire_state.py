"""deliveries record each send before and after it crosses the wire

``attempt_id`` names the send attempt a worker is making; ``wire_state`` says how far it got:
``crossing`` (committed before the first byte: the message cannot have been accepted yet)
or ``in_doubt`` (committed just before the point of no return: the SMTP end-of-data or the
SMS request). A worker that takes over a crashed worker's row knows from them whether to send
or to reconcile. ``receipt_status`` and ``receipt_at``: the SMS provider's delivery receipt.
Schema only, nullable columns: existing rows need nothing.

Revision ID: 20261207_prod_1
Revises: 20261207_core_1
Create Date: 2026-12-07 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_prod_1"
down_revision = "20261207_login_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("attempt_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("wire_state", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("receipt_status", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("receipt_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("receipt_at")
        batch.drop_column("receipt_status")
        batch.drop_column("wire_state")
        batch.drop_column("attempt_id")
