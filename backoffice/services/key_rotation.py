"""Key rotation: re-wrap record data keys under the active root key.

Re-wrapping is cheap (one small AES-GCM per record) and the data itself is untouched, so
reads work before, during and after the rotation: each wrapped key names the root key id
it was wrapped with, and old root keys stay in the keyring until nothing refers to them.
"""

from __future__ import annotations

from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.keys import DataKey
from backoffice.services import audit
from backoffice.services.crypto import Keyring
from backoffice.transactions import checkpoint

BATCH_SIZE = 500


def rotate(keyring: Keyring) -> int:
    """Re-wrap every live data key not yet under the active key; returns how many.

    A command (``keys rotate``): batches are committed as they go, the caller commits the
    rest.
    """
    count = 0
    while True:
        batch = db.session.scalars(
            select(DataKey)
            .where(DataKey.wrapped_key.is_not(None), DataKey.root_key_id != keyring.active_id)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            break
        for key_row in batch:
            key_row.wrapped_key = keyring.wrap(keyring.unwrap(key_row.wrapped_key))
            key_row.root_key_id = keyring.active_id
        count += len(batch)
        checkpoint()  # a rotation stopped half-way keeps what it re-wrapped
    audit.record(
        "keys_rotated",
        object_type="Keyring",
        object_id=keyring.active_id,
        details={"data_keys": count},
    )
    return count


def keys_still_used() -> dict[str, int]:
    """Root key id -> number of data keys still wrapped with it."""
    rows = db.session.execute(
        select(DataKey.root_key_id, func.count())
        .where(DataKey.wrapped_key.is_not(None))
        .group_by(DataKey.root_key_id)
    )
    return {key_id: count for key_id, count in rows}
