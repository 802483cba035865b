"""API clients: key rotation with a grace period, and soft deletion

Revision ID: 20261207_grants_2
Revises: 20261207_grants_1
Create Date: 2026-12-07 10:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_grants_2"
down_revision = "20261207_grants_1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_key_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_api_clients_previous_key_hash"), ["previous_key_hash"], unique=False
        )


def downgrade():
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_clients_previous_key_hash"))
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("previous_key_expires_at")
        batch_op.drop_column("previous_key_hash")
