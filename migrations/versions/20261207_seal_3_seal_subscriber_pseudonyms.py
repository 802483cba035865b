"""seal subscriber pseudonyms

A subscriber's pseudonym was clear (``subscribers.pseudonym``); it now lives sealed in
``subscribers.pseudonym_sealed`` under the root-derived field key, bound to the row and its
organisation (issue 12, finding 12), so it outlives the shredding of her contact details.
Existing rows are sealed in batches, with progress on the log, then the clear column goes.

Needs the keys, like the application (``flask --app wsgi db upgrade``).

Revision ID: 20261207_seal_3
Revises: 20261207_seal_2
Create Date: 2026-12-07 11:30:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from flask import current_app

import backoffice.models.base
from backoffice.services.crypto import associated_data

revision = "20261207_seal_3"
down_revision = "20261207_seal_2"
branch_labels = None
depends_on = None

BATCH = 500  # MIGRATION_BATCH_SIZE overrides it (tests)
log = logging.getLogger("alembic.runtime.migration")

subscribers = sa.table(
    "subscribers",
    sa.column("id", sa.Integer),
    sa.column("row_uid", sa.String),
    sa.column("organisation_id", sa.Integer),
    sa.column("pseudonym", sa.String),
    sa.column("pseudonym_sealed", sa.Text),
)


def _aad(row) -> bytes:
    return associated_data("subscribers", "pseudonym", row.row_uid, row.organisation_id)


def upgrade():
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pseudonym_sealed", backoffice.models.base.EncryptedText(), nullable=True)
        )
    connection = op.get_bind()
    keyring = current_app.extensions["keyring"]
    size = int(current_app.config.get("MIGRATION_BATCH_SIZE") or BATCH)
    total = connection.execute(sa.select(sa.func.count()).select_from(subscribers)).scalar_one()
    done, last_id = 0, 0
    while True:
        batch = connection.execute(
            sa.select(subscribers).where(subscribers.c.id > last_id).order_by(subscribers.c.id)
            .limit(size)
        ).all()
        if not batch:
            break
        for row in batch:
            connection.execute(
                sa.update(subscribers)
                .where(subscribers.c.id == row.id)
                .values(pseudonym_sealed=keyring.seal(row.pseudonym or "-", _aad(row)))
            )
        done, last_id = done + len(batch), batch[-1].id
        log.info("Sealed the pseudonyms of %d of %d subscribers", done, total)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column(
            "pseudonym_sealed", existing_type=backoffice.models.base.EncryptedText(), nullable=False
        )
        batch_op.drop_column("pseudonym")


def downgrade():
    connection = op.get_bind()
    keyring = current_app.extensions["keyring"]
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pseudonym", sa.String(length=80), nullable=True))
    for row in connection.execute(sa.select(subscribers)).all():
        connection.execute(
            sa.update(subscribers)
            .where(subscribers.c.id == row.id)
            .values(pseudonym=keyring.open(row.pseudonym_sealed, _aad(row)))
        )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column("pseudonym", existing_type=sa.String(length=80), nullable=False)
        batch_op.drop_column("pseudonym_sealed")
