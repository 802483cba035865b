"""staff invitations: single-use links to set one's own password (issue 15)

``staff_invitations``: a link sent by email to a new staff account (she sets her password
and second factor) or to a locked-out one (a new password); only the token's hash is kept.

Revision ID: 20261207_invite_1
Revises: 20261207_erasure_1
Create Date: 2026-12-07 14:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_invite_1"
down_revision = "20261207_partner_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_staff_invitations_user_id"), "staff_invitations", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_invitations_user_id"), table_name="staff_invitations")
    op.drop_table("staff_invitations")
