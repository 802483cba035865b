"""Sealed attributes: encrypted with the record's own key, audited on read, shreddable;
rotation re-wraps data keys while everything stays readable."""

from __future__ import annotations

import pytest

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.keys import DataKey
from backoffice.services import confidential
from backoffice.services.confidential import ErasedError, Sealed, shred
from backoffice.services.crypto import DecryptionError
from tests.conftest import new_root_key


class FakeCase:
    """Stands in for a confidential aggregate: the descriptor needs only these attributes."""

    __tablename__ = "fake_cases"
    __organisation_owned__ = True
    contact = Sealed()

    def __init__(self, organisation_id: int, reference: str) -> None:
        self.organisation_id = organisation_id
        self.reference = reference
        self.row_uid = None
        self.data_key = None
        self.contact_sealed = None


def test_sealed_value_round_trips_and_is_stored_encrypted(app_context):
    case = FakeCase(1, "C-1")
    case.contact = "07 98 76 54 32"
    assert "98 76" not in case.contact_sealed
    assert case.contact == "07 98 76 54 32"
    db.session.flush()
    assert db.session.get(DataKey, case.data_key.id).wrapped_key is not None


def test_every_read_is_audited_without_the_value(app_context):
    case = FakeCase(1, "C-audit")
    case.contact = "lila@example.org"
    _ = case.contact
    events = [e for e in db.session.new if isinstance(e, AuditEvent) and e.object_id == "C-audit"]
    assert [e.action for e in events] == ["decrypt"]
    assert "lila" not in repr(events[0].details)


def test_ciphertext_moved_to_another_row_or_organisation_fails(app_context):
    first, second = FakeCase(1, "C-a"), FakeCase(1, "C-b")
    first.contact = "secret"
    second.data_key = first.data_key  # even with the same key, the row binding holds
    second.row_uid = "another-row"
    second.contact_sealed = first.contact_sealed
    with pytest.raises(DecryptionError):
        _ = second.contact
    first.organisation_id = 2
    with pytest.raises(DecryptionError):
        _ = first.contact


def test_organisation_must_be_set_before_sealing(app_context):
    case = FakeCase(None, "C-x")
    with pytest.raises(ValueError, match="organisation"):
        case.contact = "x"


def test_shredding_destroys_the_key_for_good(app_context):
    case = FakeCase(1, "C-shred")
    case.contact = "07 11 22 33 44"
    token = case.contact_sealed
    shred(case, ["contact_sealed"])
    db.session.flush()
    assert case.contact is None
    case.contact_sealed = token  # even restored from a backup, the value cannot be read
    with pytest.raises(ErasedError):
        _ = case.contact


def test_rotation_rewraps_and_everything_stays_readable(app_context, test_keyring):
    from backoffice.services.key_rotation import keys_still_used, rotate

    case = FakeCase(1, "C-rotate")
    case.contact = "before rotation"
    db.session.commit()
    with new_root_key(app_context) as new_keyring:
        rotated = rotate(new_keyring, settle_seconds=0)
        assert rotated >= 1
        assert set(keys_still_used()) == {new_keyring.active_id}
        key_row = db.session.get(DataKey, case.data_key.id)
        key_row._dek = None  # forget the cached clear key: read through the new wrap
        case.data_key = key_row
        assert case.contact == "before rotation"
    assert set(keys_still_used()) <= {app_context.extensions["keyring"].active_id}


def test_keyring_is_read_from_configuration(app_context):
    assert confidential.keyring().active_id == app_context.extensions["keyring"].active_id
