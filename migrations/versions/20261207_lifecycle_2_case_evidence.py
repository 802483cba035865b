"""case evidence: photos and screenshots attached to a case, sealed with the case's key

``case_evidence``: the kind, content type, size and dimensions in clear; the re-encoded image
(metadata stripped) and its thumbnail sealed with the case's data key, so erasing the case
shreds them.

Revision ID: 20261207_lifecycle_2
Revises: 20261207_lifecycle_1
Create Date: 2026-12-07 10:50:00
"""

import sqlalchemy as sa
from alembic import op

import backoffice.models.base

revision = "20261207_lifecycle_2"
down_revision = "20261207_lifecycle_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("image_sealed", backoffice.models.base.EncryptedText(), nullable=True),
        sa.Column("thumbnail_sealed", backoffice.models.base.EncryptedText(), nullable=True),
        sa.Column("row_uid", sa.String(length=32), nullable=False),
        sa.Column("data_key_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["ab_user.id"], name=op.f("fk_case_evidence_added_by_id_ab_user")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_evidence_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_case_evidence_data_key_id_data_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_case_evidence_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
        sa.UniqueConstraint("row_uid", name=op.f("uq_case_evidence_row_uid")),
    )
    op.create_index(op.f("ix_case_evidence_case_id"), "case_evidence", ["case_id"])
    op.create_index(
        op.f("ix_case_evidence_organisation_id"), "case_evidence", ["organisation_id"]
    )


def downgrade():
    op.drop_index(op.f("ix_case_evidence_organisation_id"), table_name="case_evidence")
    op.drop_index(op.f("ix_case_evidence_case_id"), table_name="case_evidence")
    op.drop_table("case_evidence")
