"""directory provenance

Every structure says where it comes from (``source_kind``, and ``source`` in words) and
whether someone checked it (``verified_at``, ``verified_by_id``, ``verification_note``);
``owner_organisation_id`` names the partner association answering for it.
``structure_changes`` holds partner associations' changes to verified entries' contact
details until they are reviewed.

Data step: every existing entry is unverified (nobody recorded a check); entries loaded
from the demo file are marked ``demo``, the others ``legacy``, and an entry without a
source in words gets one saying it was entered before sources were recorded.

Plain ``ALTER TABLE`` on both databases, no batch copy: rebuilding ``structures`` on SQLite
would drop the rows its services, languages and referrals cascade from. SQLite keeps the
new columns' foreign keys inline (``ADD COLUMN ... REFERENCES``).

Revision ID: 20261207_info_1
Revises: 20261207_core_1
Create Date: 2026-12-07 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_info_1"
down_revision = "20261207_prod_1"
branch_labels = None
depends_on = None

LEGACY_SOURCE = "Entered before sources were recorded"


def upgrade():
    op.add_column(
        "structures",
        sa.Column("source_kind", sa.String(length=12), nullable=False, server_default="legacy"),
    )
    op.add_column("structures", sa.Column("verified_at", sa.DateTime(), nullable=True))
    _add_reference("verified_by_id", "ab_user")
    op.add_column(
        "structures", sa.Column("verification_note", sa.String(length=300), nullable=True)
    )
    _add_reference("owner_organisation_id", "organisations")
    _mark_existing_entries()
    if op.get_bind().dialect.name == "postgresql":
        # The model has no server default: the application always says where an entry
        # comes from. (SQLite cannot drop a default without rebuilding the table.)
        op.alter_column("structures", "source_kind", server_default=None)
    op.create_table(
        "structure_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("proposed", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("proposed_by_organisation_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["ab_user.id"],
            name=op.f("fk_structure_changes_proposed_by_id_ab_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_structure_changes_proposed_by_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["ab_user.id"],
            name=op.f("fk_structure_changes_reviewed_by_id_ab_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"],
            ["structures.id"],
            name=op.f("fk_structure_changes_structure_id_structures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_structure_changes")),
    )
    op.create_index(
        op.f("ix_structure_changes_status"), "structure_changes", ["status"], unique=False
    )
    op.create_index(
        op.f("ix_structure_changes_structure_id"),
        "structure_changes",
        ["structure_id"],
        unique=False,
    )


def _add_reference(column: str, table: str) -> None:
    """A nullable reference column; on SQLite its constraint is declared inline, since
    ``ALTER TABLE`` cannot add a constraint afterwards."""
    name = f"fk_structures_{column}_{table}"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE structures ADD COLUMN {column} INTEGER CONSTRAINT {name}"
            f" REFERENCES {table} (id)"
        )
        return
    op.add_column("structures", sa.Column(column, sa.Integer(), nullable=True))
    op.create_foreign_key(name, "structures", table, [column], ["id"])


def _mark_existing_entries() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE structures SET source_kind = 'demo', verified_at = NULL,"
            " verified_by_id = NULL WHERE source LIKE 'Demo data%'"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE structures SET source_kind = 'legacy', verified_at = NULL,"
            " verified_by_id = NULL WHERE source IS NULL OR source NOT LIKE 'Demo data%'"
        )
    )
    bind.execute(
        sa.text("UPDATE structures SET source = :legacy WHERE source IS NULL OR source = ''"),
        {"legacy": LEGACY_SOURCE},
    )


def downgrade():
    op.drop_index(op.f("ix_structure_changes_structure_id"), table_name="structure_changes")
    op.drop_index(op.f("ix_structure_changes_status"), table_name="structure_changes")
    op.drop_table("structure_changes")
    for column in (
        "owner_organisation_id",
        "verification_note",
        "verified_by_id",
        "verified_at",
        "source_kind",
    ):
        # SQLite cannot drop a column its foreign keys name without rebuilding the table
        # (which would cascade into referrals): those two stay, unused, on SQLite.
        if op.get_bind().dialect.name == "postgresql" or not column.endswith("_id"):
            op.drop_column("structures", column)
