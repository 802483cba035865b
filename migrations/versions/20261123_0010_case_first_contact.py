"""case first contact

``cases.first_contact_at``: when a social worker first reached the person (naive UTC, set
once from the case page), indexed for the statistics' "time to first contact".

Plain ``ALTER TABLE`` on both databases, no batch copy: rebuilding ``cases`` on SQLite (which
runs with ``PRAGMA foreign_keys=ON``) would drop the table its notes, referrals and actions
cascade from. SQLite drops a column natively since 3.35, once its index is gone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 19:21:57.000311
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("first_contact_at", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_cases_first_contact_at"), "cases", ["first_contact_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_cases_first_contact_at"), table_name="cases")
    op.drop_column("cases", "first_contact_at")
