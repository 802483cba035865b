"""seal report narratives

A report's narrative was stored in clear (``reports.narrative``); a testimony often holds the
victim's own phone, name or address, so it now lives sealed in ``reports.narrative_sealed``
under the report's data key, like her contact details (issue 12, finding 1). Existing rows
are sealed in batches, with progress on the log; a report without a data key gets one; a
report whose key was destroyed (her data erased) loses its narrative too, as erasure meant.
The clear column is then dropped (SQLite rebuilds the table and, with ``secure_delete``,
overwrites the freed pages).

Needs the keys (``BACKOFFICE_KEYS`` / ``BACKOFFICE_KEY_FILE``), like the application: the
migration runs inside it (``flask --app wsgi db upgrade``).

Revision ID: 20261207_seal_1
Revises: 20261207_core_1
Create Date: 2026-12-07 11:10:00
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from alembic import op
from flask import current_app

import backoffice.models.base
from backoffice.services.crypto import associated_data, open_with_data_key, seal_with_data_key

revision = "20261207_seal_1"
down_revision = "20261207_info_2"
branch_labels = None
depends_on = None

BATCH = 500  # rows per batch; MIGRATION_BATCH_SIZE overrides it (tests)
RECORD_KEY_ID = "rec"  # as backoffice.services.confidential writes it
log = logging.getLogger("alembic.runtime.migration")

reports = sa.table(
    "reports",
    sa.column("id", sa.Integer),
    sa.column("row_uid", sa.String),
    sa.column("data_key_id", sa.Integer),
    sa.column("narrative", sa.Text),
    sa.column("narrative_sealed", sa.Text),
)
data_keys = sa.table(
    "data_keys",
    sa.column("id", sa.Integer),
    sa.column("purpose", sa.String),
    sa.column("wrapped_key", sa.Text),
    sa.column("root_key_id", sa.String),
    sa.column("created_at", sa.DateTime),
)


def _aad(row_uid: str) -> bytes:
    # Reports belong to no organisation: the same binding as the Sealed attribute gives.
    return associated_data("reports", "narrative", row_uid, None)


def _key_of(connection, keyring, report) -> bytes | None:
    """The report's clear data key, made when it has none; None when it was destroyed."""
    if report.data_key_id is None:
        dek, wrapped = keyring.new_data_key()
        key_id = connection.execute(
            sa.insert(data_keys)
            .values(
                purpose="reports",
                wrapped_key=wrapped,
                root_key_id=keyring.active_id,
                created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
            .returning(data_keys.c.id)
        ).scalar_one()
        connection.execute(
            sa.update(reports).where(reports.c.id == report.id).values(data_key_id=key_id)
        )
        return dek
    wrapped = connection.execute(
        sa.select(data_keys.c.wrapped_key).where(data_keys.c.id == report.data_key_id)
    ).scalar_one()
    return keyring.unwrap(wrapped) if wrapped is not None else None


def _seal_existing(connection) -> None:
    keyring = current_app.extensions["keyring"]
    batch_size = int(current_app.config.get("MIGRATION_BATCH_SIZE") or BATCH)
    total = connection.execute(sa.select(sa.func.count()).select_from(reports)).scalar_one()
    done, last_id = 0, 0
    while True:
        batch = connection.execute(
            sa.select(reports.c.id, reports.c.row_uid, reports.c.data_key_id, reports.c.narrative)
            .where(reports.c.id > last_id)
            .order_by(reports.c.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for report in batch:
            dek = _key_of(connection, keyring, report)
            token = None
            if dek is not None and report.narrative:
                token = seal_with_data_key(
                    dek, RECORD_KEY_ID, report.narrative, _aad(report.row_uid)
                )
            connection.execute(
                sa.update(reports)
                .where(reports.c.id == report.id)
                .values(narrative_sealed=token, narrative=None)
            )
        done, last_id = done + len(batch), batch[-1].id
        log.info("Sealed the narratives of %d of %d reports", done, total)


def upgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("narrative_sealed", backoffice.models.base.EncryptedText(), nullable=True)
        )
        batch_op.alter_column("narrative", existing_type=sa.Text(), nullable=True)
    _seal_existing(op.get_bind())
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("narrative")


def downgrade():
    connection = op.get_bind()
    keyring = current_app.extensions["keyring"]
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("narrative", sa.Text(), nullable=True))
    rows = connection.execute(
        sa.select(reports.c.id, reports.c.row_uid, reports.c.narrative_sealed, data_keys.c.wrapped_key)
        .select_from(reports.outerjoin(data_keys, data_keys.c.id == reports.c.data_key_id))
    ).all()
    for row in rows:
        clear = ""
        if row.narrative_sealed and row.wrapped_key:
            dek = keyring.unwrap(row.wrapped_key)
            clear = open_with_data_key(dek, row.narrative_sealed, _aad(row.row_uid))
        connection.execute(
            sa.update(reports).where(reports.c.id == row.id).values(narrative=clear)
        )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("narrative", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("narrative_sealed")
