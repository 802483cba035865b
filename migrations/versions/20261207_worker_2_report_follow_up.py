"""report follow-up: codes, wrong tries, erasure by the worker, her sealed answers

Revision ID: 20261207_worker_2
Revises: 20261207_worker_1
"""

import sqlalchemy as sa
from alembic import op

import backoffice.models.base

revision = "20261207_worker_2"
down_revision = "20261207_worker_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_follow_ups",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("erased_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_follow_ups_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_follow_ups")),
    )
    op.create_table(
        "report_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("text_sealed", backoffice.models.base.EncryptedText(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("row_uid", sa.String(length=32), nullable=False),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_report_answers_data_key_id_data_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_answers_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_answers")),
        sa.UniqueConstraint("row_uid", name=op.f("uq_report_answers_row_uid")),
    )
    with op.batch_alter_table("report_answers") as batch_op:
        batch_op.create_index(batch_op.f("ix_report_answers_report_id"), ["report_id"])


def downgrade():
    op.drop_table("report_answers")
    op.drop_table("report_follow_ups")
