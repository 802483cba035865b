"""report questions: the moderator's question sealed, to the worker or the filing partner

Revision ID: 20261207_partner_1
Revises: 20261207_erasure_1
"""

import sqlalchemy as sa
from alembic import op

import backoffice.models.base

revision = "20261207_partner_1"
down_revision = "20261207_versions_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("addressee", sa.String(length=10), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=True),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("text_sealed", backoffice.models.base.EncryptedText(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("unanswered_at", sa.DateTime(), nullable=True),
        sa.Column("row_uid", sa.String(length=32), nullable=False),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asked_by_id"], ["ab_user.id"], name=op.f("fk_report_questions_asked_by_id_ab_user")
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_report_questions_data_key_id_data_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_questions_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_questions")),
        sa.UniqueConstraint("row_uid", name=op.f("uq_report_questions_row_uid")),
    )
    with op.batch_alter_table("report_questions") as batch_op:
        batch_op.create_index(batch_op.f("ix_report_questions_report_id"), ["report_id"])
        batch_op.create_index(batch_op.f("ix_report_questions_asked_at"), ["asked_at"])
    with op.batch_alter_table("reports") as batch_op:
        batch_op.create_index(
            "ix_reports_filing_organisation_status", ["filing_organisation_id", "status"]
        )
    with op.batch_alter_table("report_answers") as batch_op:
        batch_op.add_column(sa.Column("question_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_report_answers_question_id_report_questions"),
            "report_questions",
            ["question_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_report_answers_answered_by_id_ab_user"),
            "ab_user",
            ["answered_by_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("report_answers") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_report_answers_answered_by_id_ab_user"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_report_answers_question_id_report_questions"), type_="foreignkey"
        )
        batch_op.drop_column("answered_by_id")
        batch_op.drop_column("question_id")
    with op.batch_alter_table("reports") as batch_op:
        batch_op.drop_index("ix_reports_filing_organisation_status")
    op.drop_table("report_questions")
