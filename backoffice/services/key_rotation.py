"""Key rotation: everything sealed under an old root key moves to the active one.

* Record data keys are re-wrapped: cheap (one small AES-GCM per record), the data itself is
  untouched, so reads work before, during and after the rotation.
* Values sealed directly with a root key (aggressor identifiers of reports and alerts,
  second-factor secrets: ``ROOT_SEALED``) are opened and sealed again under the active key.
* Other processes learn the new key from the key file (``Keyring.refresh``: at once for a
  key id they do not know, within ``KEY_REFRESH_SECONDS`` for the active one). Data keys
  and values they write meanwhile may still use the old key, so the sweep runs again after
  that delay, until a pass finds nothing.

``keys_still_used`` counts both kinds per key id: an old key may be retired (removed from the
key file) only when it counts nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.alert import AlertIdentifier, AlertVersion
from backoffice.models.keys import DataKey
from backoffice.models.report import ReportIdentifier
from backoffice.models.user import StaffUser
from backoffice.services import audit, intake
from backoffice.services.alerts import alert_identifier_aad, alert_version_aad
from backoffice.services.confidential import keyring as current_keyring
from backoffice.services.crypto import KEY_REFRESH_SECONDS, TOKEN_VERSION, Keyring
from backoffice.services.second_factor import secret_aad
from backoffice.transactions import checkpoint

BATCH_SIZE = 500


@dataclass(frozen=True)
class RootSealed:
    """A column holding values sealed with a root key, and how to rebuild their binding."""

    model: type
    column: str
    aad: Callable[[object], bytes]

    @property
    def attribute(self):
        return getattr(self.model, self.column)


ROOT_SEALED = (
    RootSealed(ReportIdentifier, "value_sealed", lambda row: intake.identifier_aad(row.row_uid)),
    RootSealed(AlertIdentifier, "value_sealed", alert_identifier_aad),
    RootSealed(AlertVersion, "identifiers_sealed", alert_version_aad),
    RootSealed(StaffUser, "totp_secret", secret_aad),
    RootSealed(StaffUser, "totp_pending_secret", lambda u: secret_aad(u, "totp_pending_secret")),
)


def _root_prefix(key_id: str = "") -> str:
    return f"{TOKEN_VERSION}:r:{key_id}"


def rotate(keyring: Keyring, settle_seconds: float | None = None) -> int:
    """Move every data key and root-sealed value to the active key; returns how many.

    A command (``keys rotate``): batches are committed as they go, the caller commits the
    rest. After a pass, it waits ``settle_seconds`` (the time other processes take to see
    the new key) and sweeps again, until a pass after the wait finds nothing.
    """
    wait = KEY_REFRESH_SECONDS * 2 if settle_seconds is None else settle_seconds
    total = _sweep(keyring)
    while wait > 0:
        time.sleep(wait)
        moved = _sweep(keyring)
        total += moved
        if not moved:
            break
    audit.record(
        "keys_rotated",
        object_type="Keyring",
        object_id=keyring.active_id,
        details={"moved": total},
    )
    return total


def _sweep(keyring: Keyring) -> int:
    return _rewrap_data_keys(keyring) + sum(_reseal(keyring, kind) for kind in ROOT_SEALED)


def _rewrap_data_keys(keyring: Keyring) -> int:
    count = 0
    while True:
        batch = db.session.scalars(
            select(DataKey)
            .where(DataKey.wrapped_key.is_not(None), DataKey.root_key_id != keyring.active_id)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return count
        for key_row in batch:
            key_row.wrapped_key = keyring.wrap(keyring.unwrap(key_row.wrapped_key))
            key_row.root_key_id = keyring.wrapped_key_id(key_row.wrapped_key)
        count += len(batch)
        checkpoint()  # a rotation stopped half-way keeps what it re-wrapped


def _reseal(keyring: Keyring, kind: RootSealed) -> int:
    count = 0
    while True:
        batch = db.session.scalars(
            select(kind.model)
            .where(
                kind.attribute.like(_root_prefix() + "%"),
                kind.attribute.not_like(_root_prefix(keyring.active_id) + ":%"),
            )
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return count
        for row in batch:
            aad = kind.aad(row)
            clear = keyring.open(getattr(row, kind.column), aad)
            setattr(row, kind.column, keyring.seal(clear, aad))
        count += len(batch)
        checkpoint()


def keys_still_used(keyring: Keyring | None = None) -> dict[str, int]:
    """Root key id -> number of data keys wrapped with it plus values sealed with it.

    Root-sealed values are counted for each id of ``keyring`` (default: this process's)."""
    counts: Counter[str] = Counter()
    rows = db.session.execute(
        select(DataKey.root_key_id, func.count())
        .where(DataKey.wrapped_key.is_not(None))
        .group_by(DataKey.root_key_id)
    )
    counts.update({key_id: count for key_id, count in rows})
    ring = keyring or current_keyring()
    for kind in ROOT_SEALED:
        for key_id in ring.root_keys:
            sealed = db.session.scalar(
                select(func.count())
                .select_from(kind.model)
                .where(kind.attribute.like(_root_prefix(key_id) + ":%"))
            )
            if sealed:
                counts[key_id] += sealed
    return dict(counts)
