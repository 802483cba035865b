"""seal the redaction texts

The anonymisation assistant's proposal (``reports.redaction_proposal``) and the moderator's
reviewed redaction (``reports.redaction_reviewed``) quote the victim's narrative (their text
and spans), so they were as clear as the narrative used to be (issue 12, finding 1). Each now
lives sealed under the report's data key as its JSON text, in ``redaction_proposal_sealed`` /
``redaction_reviewed_sealed``. Existing rows are sealed in batches, with progress on the log;
a report without a data key gets one; a report whose key was destroyed (her data erased)
loses both texts, as erasure meant. The clear columns are then dropped.

Needs the keys (``BACKOFFICE_KEYS`` / ``BACKOFFICE_KEY_FILE``), like the application: the
migration runs inside it (``flask --app wsgi db upgrade``).

Revision ID: 20261207_seal2_1
Revises: 20261207_prod_2
Create Date: 2026-12-07 12:15:00
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import sqlalchemy as sa
from alembic import op
from flask import current_app

import backoffice.models.base
from backoffice.services.crypto import associated_data, open_with_data_key, seal_with_data_key

revision = "20261207_seal2_1"
down_revision = "20261207_prod_2"
branch_labels = None
depends_on = None

BATCH = 500  # rows per batch; MIGRATION_BATCH_SIZE overrides it (tests)
RECORD_KEY_ID = "rec"  # as backoffice.services.confidential writes it
FIELDS = ("redaction_proposal", "redaction_reviewed")
log = logging.getLogger("alembic.runtime.migration")

reports = sa.table(
    "reports",
    sa.column("id", sa.Integer),
    sa.column("row_uid", sa.String),
    sa.column("data_key_id", sa.Integer),
    *(sa.column(field, sa.JSON) for field in FIELDS),
    *(sa.column(f"{field}_sealed", sa.Text) for field in FIELDS),
)
data_keys = sa.table(
    "data_keys",
    sa.column("id", sa.Integer),
    sa.column("purpose", sa.String),
    sa.column("wrapped_key", sa.Text),
    sa.column("root_key_id", sa.String),
    sa.column("created_at", sa.DateTime),
)


def _aad(field: str, row_uid: str) -> bytes:
    # Reports belong to no organisation: the same binding as the SealedJSON attribute gives.
    return associated_data("reports", field, row_uid, None)


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


def _sealed_values(dek: bytes | None, report) -> dict:
    values = {}
    for field in FIELDS:
        value = getattr(report, field)
        token = None
        if dek is not None and value is not None:
            text = json.dumps(value, ensure_ascii=False)  # as SealedJSON writes it
            token = seal_with_data_key(dek, RECORD_KEY_ID, text, _aad(field, report.row_uid))
        values[f"{field}_sealed"] = token
        values[field] = None
    return values


def _seal_existing(connection) -> None:
    keyring = current_app.extensions["keyring"]
    batch_size = int(current_app.config.get("MIGRATION_BATCH_SIZE") or BATCH)
    with_text = sa.or_(*(reports.c[field].isnot(None) for field in FIELDS))
    total = connection.execute(
        sa.select(sa.func.count()).select_from(reports).where(with_text)
    ).scalar_one()
    done, last_id = 0, 0
    while True:
        batch = connection.execute(
            sa.select(
                reports.c.id,
                reports.c.row_uid,
                reports.c.data_key_id,
                *(reports.c[field] for field in FIELDS),
            )
            .where(reports.c.id > last_id, with_text)
            .order_by(reports.c.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for report in batch:
            dek = _key_of(connection, keyring, report)
            connection.execute(
                sa.update(reports)
                .where(reports.c.id == report.id)
                .values(**_sealed_values(dek, report))
            )
        done, last_id = done + len(batch), batch[-1].id
        log.info("Sealed the redactions of %d of %d reports", done, total)


def upgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        for field in FIELDS:
            batch_op.add_column(
                sa.Column(f"{field}_sealed", backoffice.models.base.EncryptedText(), nullable=True)
            )
    _seal_existing(op.get_bind())
    with op.batch_alter_table("reports", schema=None) as batch_op:
        for field in FIELDS:
            batch_op.drop_column(field)


def downgrade():
    connection = op.get_bind()
    keyring = current_app.extensions["keyring"]
    with op.batch_alter_table("reports", schema=None) as batch_op:
        for field in FIELDS:
            batch_op.add_column(sa.Column(field, sa.JSON(), nullable=True))
    rows = connection.execute(
        sa.select(
            reports.c.id,
            reports.c.row_uid,
            data_keys.c.wrapped_key,
            *(reports.c[f"{field}_sealed"] for field in FIELDS),
        )
        .select_from(reports.outerjoin(data_keys, data_keys.c.id == reports.c.data_key_id))
        .where(sa.or_(*(reports.c[f"{field}_sealed"].isnot(None) for field in FIELDS)))
    ).all()
    for row in rows:
        values = {}
        dek = keyring.unwrap(row.wrapped_key) if row.wrapped_key else None
        for field in FIELDS:
            token = getattr(row, f"{field}_sealed")
            if dek is not None and token:
                text = open_with_data_key(dek, token, _aad(field, row.row_uid))
                values[field] = json.loads(text)
        if values:
            connection.execute(sa.update(reports).where(reports.c.id == row.id).values(**values))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        for field in FIELDS:
            batch_op.drop_column(f"{field}_sealed")
