"""seed outreach templates of existing organisations

Until now an organisation's outreach message templates were written the first time its team
opened the template page (a GET that wrote). New organisations now get them when they are
created (``organisations.created``); this gives every existing organisation the purposes
and languages it still lacks, with the programme's texts as the ``alerts`` catalogues hold
them at this revision (read from the ``.po`` files, which need no compiling). Templates a
team already has, edited or not, are left as they are.

Data only: the downgrade keeps the rows (they are ordinary templates by then).

Revision ID: 20261207_core_1
Revises: 0010
Create Date: 2026-12-07 09:00:00
"""

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from babel.messages.pofile import read_po

revision = "20261207_core_1"
down_revision = "20261207_stats_1"
branch_labels = None
depends_on = None

PURPOSES = (
    "first_contact",
    "who_we_are",
    "how_to_register",
    "health_information",
    "violence_prevention_tools",
    "after_an_assault",
)
LANGUAGES = ("fr", "en", "es", "pt", "ro", "bg", "zh", "ru", "uk", "ar")
TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"


def _texts() -> dict[tuple[str, str], str]:
    """(purpose, language) -> the programme's text, from the alerts catalogues."""
    texts = {}
    for language in LANGUAGES:
        with (TRANSLATIONS / language / "LC_MESSAGES" / "alerts.po").open("rb") as handle:
            catalogue = read_po(handle)
        for message in catalogue:
            context = message.context or ""
            purpose = context.removeprefix("outreach:")
            if context.startswith("outreach:") and purpose in PURPOSES and message.string:
                texts[(purpose, language)] = message.string
    return texts


def upgrade():
    connection = op.get_bind()
    organisations = sa.table("organisations", sa.column("id", sa.Integer))
    templates = sa.table(
        "outreach_templates",
        sa.column("organisation_id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("language", sa.String),
        sa.column("text", sa.Text),
        sa.column("updated_at", sa.DateTime),
    )
    organisation_ids = connection.execute(sa.select(organisations.c.id)).scalars().all()
    if not organisation_ids:
        return
    existing = set(
        connection.execute(
            sa.select(templates.c.organisation_id, templates.c.purpose, templates.c.language)
        ).all()
    )
    texts = _texts()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        {
            "organisation_id": organisation_id,
            "purpose": purpose,
            "language": language,
            "text": text,
            "updated_at": now,
        }
        for organisation_id in organisation_ids
        for (purpose, language), text in sorted(texts.items())
        if (organisation_id, purpose, language) not in existing
    ]
    if rows:
        op.bulk_insert(templates, rows)


def downgrade():
    pass
