"""case complaints: where and when her complaint was filed, her lawyer, hearing and deadline

``case_complaints``: structures of the directory and dates in clear (reminders are case
actions), free details sealed with the case's key.

Revision ID: 20261207_lifecycle_4
Revises: 20261207_lifecycle_3
Create Date: 2026-12-07 11:05:00
"""

import sqlalchemy as sa
from alembic import op

import backoffice.models.base

revision = "20261207_lifecycle_4"
down_revision = "20261207_lifecycle_3"
branch_labels = None
depends_on = None

TABLE = "case_complaints"


def _fk(column: str, target: str, **kwargs) -> sa.ForeignKeyConstraint:
    name = f"fk_{TABLE}_{column}_{target.split('.')[0]}"
    return sa.ForeignKeyConstraint([column], [target], name=op.f(name), **kwargs)


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("filed_with_id", sa.Integer(), nullable=True),
        sa.Column("lawyer_id", sa.Integer(), nullable=True),
        sa.Column("hearing_on", sa.Date(), nullable=True),
        sa.Column("deadline_on", sa.Date(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("details_sealed", backoffice.models.base.EncryptedText(), nullable=True),
        sa.Column("row_uid", sa.String(length=32), nullable=False),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("case_id", "cases.id", ondelete="CASCADE"),
        _fk("filed_with_id", "structures.id"),
        _fk("lawyer_id", "structures.id"),
        _fk("recorded_by_id", "ab_user.id"),
        _fk("data_key_id", "data_keys.id"),
        _fk("organisation_id", "organisations.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("row_uid", name=op.f(f"uq_{TABLE}_row_uid")),
    )
    op.create_index(op.f(f"ix_{TABLE}_case_id"), TABLE, ["case_id"])
    op.create_index(op.f(f"ix_{TABLE}_organisation_id"), TABLE, ["organisation_id"])


def downgrade():
    op.drop_index(op.f(f"ix_{TABLE}_organisation_id"), table_name=TABLE)
    op.drop_index(op.f(f"ix_{TABLE}_case_id"), table_name=TABLE)
    op.drop_table(TABLE)
