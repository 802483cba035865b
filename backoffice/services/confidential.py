"""Sealed model attributes: confidential fields encrypted with the record's data key.

Declare a column of type ``EncryptedText`` named ``<field>_sealed`` and a ``Sealed`` attribute
named ``<field>`` on a ``ConfidentialRecord``: assigning the attribute encrypts, reading it
decrypts and writes an audit event. The clear value never sits in a column.
"""

from __future__ import annotations

import json

from flask import current_app

from backoffice.extensions import db
from backoffice.models.base import new_row_uid, utcnow
from backoffice.models.keys import DataKey
from backoffice.services import audit
from backoffice.services.crypto import (
    DecryptionError,
    Keyring,
    associated_data,
    open_with_data_key,
    seal_with_data_key,
)

RECORD_KEY_ID = "rec"


class ErasedError(DecryptionError):
    """The record's data key was destroyed: its confidential data no longer exists."""


def keyring() -> Keyring:
    return current_app.extensions["keyring"]


def data_key_of(record) -> tuple[DataKey, bytes]:
    """The record's data key row and clear key, creating both on first use."""
    key_row = record.data_key
    if key_row is None:
        dek, wrapped = keyring().new_data_key()
        key_row = DataKey(
            purpose=record.__tablename__,
            wrapped_key=wrapped,
            root_key_id=keyring().wrapped_key_id(wrapped),
        )
        key_row._dek = dek
        record.data_key = key_row
        db.session.add(key_row)  # saved with the record, whatever order things are added in
        return key_row, dek
    if key_row.is_destroyed:
        raise ErasedError("This record's confidential data was erased.")
    dek = getattr(key_row, "_dek", None)
    if dek is None:
        dek = key_row._dek = keyring().unwrap(key_row.wrapped_key)
    return key_row, dek


def _aad(record, field: str) -> bytes:
    if record.row_uid is None:
        record.row_uid = new_row_uid()
    organisation = getattr(record, "organisation_id", None)
    if getattr(record, "__organisation_owned__", False) and organisation is None:
        raise ValueError("Set the organisation before sealing confidential fields.")
    return associated_data(record.__tablename__, field, record.row_uid, organisation)


class Sealed:
    """A clear-text view of an encrypted column, audited on every read.

    ``root=True`` seals with the root-derived field key instead of the record's data key:
    for a value that must outlive the erasure of the record's other fields (a subscriber's
    pseudonym stays after her contact details are shredded), still never clear at rest.
    """

    def __init__(self, column: str | None = None, audited: bool = True, root: bool = False):
        self.column = column
        self.audited = audited
        self.root = root

    def __set_name__(self, owner, name: str) -> None:
        self.field = name
        self.column = self.column or f"{name}_sealed"

    def __get__(self, record, owner=None):
        if record is None:
            return self
        token = getattr(record, self.column)
        if token is None:
            return None
        if self.root:
            value = keyring().open(token, _aad(record, self.field))
        else:
            _key_row, dek = data_key_of(record)
            value = open_with_data_key(dek, token, _aad(record, self.field))
        if self.audited:
            audit.record_decryption(record, self.field)
        return value

    def __set__(self, record, value: str | None) -> None:
        setattr(record, self.column, self.token_for(record, value))

    def token_for(self, record, value) -> str | None:
        """The ciphertext ``value`` would be stored as (for a bulk UPDATE's values)."""
        if value is None or value == "":
            return None
        if self.root:
            return keyring().seal(str(value), _aad(record, self.field))
        _key_row, dek = data_key_of(record)
        # The token names no key id: the record's own data_key_id says which key it is.
        return seal_with_data_key(dek, RECORD_KEY_ID, str(value), _aad(record, self.field))


class SealedJSON(Sealed):
    """A sealed JSON value (a dict or list), stored as its sealed JSON text.

    Reassign the whole value to change it: an in-place edit of the returned dict is not saved.
    """

    def __get__(self, record, owner=None):
        value = super().__get__(record, owner)
        if record is None or value is None:
            return value
        return json.loads(value)

    def token_for(self, record, value) -> str | None:
        text = None if value is None else json.dumps(value, ensure_ascii=False)
        return super().token_for(record, text)


def shred(record, sealed_columns: list[str]) -> None:
    """Destroy the record's data key and clear its sealed columns. Irreversible."""
    key_row = record.data_key
    if key_row is not None:
        key_row.wrapped_key = None
        key_row.root_key_id = None
        key_row.destroyed_at = utcnow()
        key_row._dek = None
    for column in sealed_columns:
        setattr(record, column, None)
