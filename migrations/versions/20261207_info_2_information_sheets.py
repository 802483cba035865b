"""information sheets

``info_sheets`` and ``info_sheet_versions`` (one per alert language: a draft waiting for
review and the published text). Data step: the starter set of sheets
(``backoffice/data/information_sheets.json`` as it is at this revision), French published,
the translations written with them published but marked ``to_review`` (to be reviewed by a
native speaker in the back office). A sheet whose slug exists is left as it is.

Revision ID: 20261207_info_2
Revises: 20261207_info_1
Create Date: 2026-12-07 11:00:00
"""

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "20261207_info_2"
down_revision = "20261207_info_1"
branch_labels = None
depends_on = None

STARTER = Path(__file__).resolve().parents[2] / "backoffice" / "data" / "information_sheets.json"


def upgrade():
    op.create_table(
        "info_sheets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_info_sheets")),
        sa.UniqueConstraint("slug", name=op.f("uq_info_sheets_slug")),
    )
    op.create_table(
        "info_sheet_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sheet_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("draft_title", sa.String(length=200), nullable=True),
        sa.Column("draft_body", sa.Text(), nullable=True),
        sa.Column("draft_sources", sa.JSON(), nullable=True),
        sa.Column("draft_revision", sa.Integer(), nullable=True),
        sa.Column("draft_by_id", sa.Integer(), nullable=True),
        sa.Column("draft_at", sa.DateTime(), nullable=True),
        sa.Column("published_title", sa.String(length=200), nullable=True),
        sa.Column("published_body", sa.Text(), nullable=True),
        sa.Column("published_sources", sa.JSON(), nullable=True),
        sa.Column("published_revision", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("written_by_id", sa.Integer(), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("review", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_by_id"],
            ["ab_user.id"],
            name=op.f("fk_info_sheet_versions_draft_by_id_ab_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["ab_user.id"],
            name=op.f("fk_info_sheet_versions_published_by_id_ab_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sheet_id"],
            ["info_sheets.id"],
            name=op.f("fk_info_sheet_versions_sheet_id_info_sheets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["written_by_id"],
            ["ab_user.id"],
            name=op.f("fk_info_sheet_versions_written_by_id_ab_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_info_sheet_versions")),
        sa.UniqueConstraint(
            "sheet_id", "language", name=op.f("uq_info_sheet_versions_sheet_id")
        ),
    )
    op.create_index(
        op.f("ix_info_sheet_versions_sheet_id"),
        "info_sheet_versions",
        ["sheet_id"],
        unique=False,
    )
    load_starter_sheets(op.get_bind())


def load_starter_sheets(bind) -> None:
    """Insert the starter sheets whose slug is not there yet (published, translations to be
    reviewed)."""
    sheets = sa.table(
        "info_sheets",
        sa.column("id", sa.Integer),
        sa.column("slug", sa.String),
        sa.column("topic", sa.String),
        sa.column("revision", sa.Integer),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
    )
    versions = sa.table(
        "info_sheet_versions",
        sa.column("sheet_id", sa.Integer),
        sa.column("language", sa.String),
        sa.column("published_title", sa.String),
        sa.column("published_body", sa.Text),
        sa.column("published_sources", sa.JSON),
        sa.column("published_revision", sa.Integer),
        sa.column("published_at", sa.DateTime),
        sa.column("review", sa.String),
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    taken = set(bind.execute(sa.select(sheets.c.slug)).scalars())
    for sheet in json.loads(STARTER.read_text(encoding="utf-8"))["sheets"]:
        if sheet["slug"] in taken:
            continue
        bind.execute(
            sheets.insert().values(
                slug=sheet["slug"], topic=sheet["topic"], revision=1, created_at=now, updated_at=now
            )
        )
        sheet_id = bind.execute(
            sa.select(sheets.c.id).where(sheets.c.slug == sheet["slug"])
        ).scalar_one()
        for language, text in sheet["versions"].items():
            bind.execute(
                versions.insert().values(
                    sheet_id=sheet_id,
                    language=language,
                    published_title=text["title"],
                    published_body=text["body"],
                    published_sources=sheet["sources"] if language == "fr" else None,
                    published_revision=1,
                    published_at=now,
                    # The French source is the programme's own text; translations wait
                    # for a native speaker's review in the back office.
                    review="reviewed" if language == "fr" else "to_review",
                )
            )


def downgrade():
    op.drop_index(op.f("ix_info_sheet_versions_sheet_id"), table_name="info_sheet_versions")
    op.drop_table("info_sheet_versions")
    op.drop_table("info_sheets")
