"""legal consents and dossiers: sharing with the police or a lawyer, only on her consent

``case_legal_consents``: her consent, per recipient kind, to pass the aggressor's details
(never hers) and optionally her testimony and the evidence; ``case_dossiers``: each dossier
built on such a consent (recipient, items shared, the count of other reports), without the
PDF.

Revision ID: 20261207_lifecycle_3
Revises: 20261207_lifecycle_2
Create Date: 2026-12-07 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_lifecycle_3"
down_revision = "20261207_lifecycle_2"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_{column}_{target.split('.')[0]}"
    return sa.ForeignKeyConstraint([column], [target], name=op.f(name), **kwargs)


def upgrade():
    op.create_table(
        "case_legal_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recipient_kind", sa.String(length=10), nullable=False),
        sa.Column("include_testimony", sa.Boolean(), nullable=False),
        sa.Column("include_evidence", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        _fk("case_legal_consents", "case_id", "cases.id", ondelete="CASCADE"),
        _fk("case_legal_consents", "recorded_by_id", "ab_user.id"),
        _fk("case_legal_consents", "withdrawn_by_id", "ab_user.id"),
        _fk("case_legal_consents", "organisation_id", "organisations.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_legal_consents")),
    )
    op.create_index(op.f("ix_case_legal_consents_case_id"), "case_legal_consents", ["case_id"])
    op.create_index(
        op.f("ix_case_legal_consents_organisation_id"), "case_legal_consents", ["organisation_id"]
    )
    op.create_table(
        "case_dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("shared", sa.JSON(), nullable=False),
        sa.Column("other_reports", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("built_by_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        _fk("case_dossiers", "case_id", "cases.id", ondelete="CASCADE"),
        _fk("case_dossiers", "structure_id", "structures.id"),
        _fk("case_dossiers", "consent_id", "case_legal_consents.id"),
        _fk("case_dossiers", "built_by_id", "ab_user.id"),
        _fk("case_dossiers", "organisation_id", "organisations.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_dossiers")),
        sa.UniqueConstraint("reference", name=op.f("uq_case_dossiers_reference")),
    )
    op.create_index(op.f("ix_case_dossiers_case_id"), "case_dossiers", ["case_id"])
    op.create_index(op.f("ix_case_dossiers_organisation_id"), "case_dossiers", ["organisation_id"])


def downgrade():
    op.drop_index(op.f("ix_case_dossiers_organisation_id"), table_name="case_dossiers")
    op.drop_index(op.f("ix_case_dossiers_case_id"), table_name="case_dossiers")
    op.drop_table("case_dossiers")
    op.drop_index(op.f("ix_case_legal_consents_organisation_id"), table_name="case_legal_consents")
    op.drop_index(op.f("ix_case_legal_consents_case_id"), table_name="case_legal_consents")
    op.drop_table("case_legal_consents")
