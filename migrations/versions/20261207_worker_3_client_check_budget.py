"""api clients: the check budget an Admin sets per client

Revision ID: 20261207_worker_3
Revises: 20261207_anon_1
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_worker_3"
down_revision = "20261207_anon_1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_clients") as batch_op:
        batch_op.add_column(sa.Column("check_rate_per_minute", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("api_clients") as batch_op:
        batch_op.drop_column("check_rate_per_minute")
