"""grant requests: changes that open confidential data wait for a second Admin

Revision ID: 20261207_grants_1
Revises: 20261207_core_1
Create Date: 2026-12-07 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_grants_1"
down_revision = "20261207_core_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "grant_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["ab_user.id"],
            name=op.f("fk_grant_requests_decided_by_id_ab_user"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["ab_user.id"], name=op.f("fk_grant_requests_requester_id_ab_user")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["ab_user.id"], name=op.f("fk_grant_requests_target_id_ab_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_requests")),
    )
    with op.batch_alter_table("grant_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_grant_requests_requester_id"), ["requester_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_grant_requests_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_grant_requests_target_id"), ["target_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("grant_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_requests_target_id"))
        batch_op.drop_index(batch_op.f("ix_grant_requests_state"))
        batch_op.drop_index(batch_op.f("ix_grant_requests_requester_id"))
    op.drop_table("grant_requests")
