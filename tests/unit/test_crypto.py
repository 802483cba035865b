"""The encryption service: round trips, tampering, moved ciphertexts, rotation, shredding."""

from __future__ import annotations

import json
import os

import pytest

from backoffice.services import crypto
from backoffice.services.crypto import (
    DecryptionError,
    Keyring,
    KeyringError,
    UnknownKeyError,
    associated_data,
    is_token,
    open_with_data_key,
    parse_token,
    seal_with_data_key,
)

AAD = associated_data("reports", "victim_phone", "row-1", 3)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


def test_root_sealed_value_round_trips_and_is_not_clear(keyring):
    token = keyring.seal("07 98 76 54 32", AAD)
    assert is_token(token)
    assert "07 98" not in token
    assert keyring.open(token, AAD) == "07 98 76 54 32"


def test_same_value_sealed_twice_gives_different_ciphertexts(keyring):
    assert keyring.seal("Lila", AAD) != keyring.seal("Lila", AAD)


@pytest.mark.parametrize("position", [12, 20, -2])
def test_tampered_ciphertext_is_refused(keyring, position):
    token = keyring.seal("Lila", AAD)
    prefix, payload = token.rsplit(":", 1)
    flipped = (
        payload[:position] + ("A" if payload[position] != "A" else "B") + payload[position + 1 :]
    )
    with pytest.raises(DecryptionError):
        keyring.open(f"{prefix}:{flipped}", AAD)


@pytest.mark.parametrize(
    "other",
    [
        associated_data("reports", "victim_phone", "row-2", 3),  # another row
        associated_data("reports", "victim_email", "row-1", 3),  # another column
        associated_data("cases", "victim_phone", "row-1", 3),  # another table
        associated_data("reports", "victim_phone", "row-1", 4),  # another organisation
    ],
)
def test_ciphertext_moved_elsewhere_is_refused(keyring, other):
    token = keyring.seal("Lila", AAD)
    with pytest.raises(DecryptionError):
        keyring.open(token, other)


def test_data_key_round_trip_and_shredding(keyring):
    dek, wrapped = keyring.new_data_key()
    token = seal_with_data_key(dek, 7, "note: PEP started", AAD)
    assert open_with_data_key(keyring.unwrap(wrapped), token, AAD) == "note: PEP started"
    # Without the wrapped key (destroyed), no other key opens the value.
    other_dek, _ = keyring.new_data_key()
    with pytest.raises(DecryptionError):
        open_with_data_key(other_dek, token, AAD)


def test_rotation_keeps_old_data_readable_and_rewraps(keyring):
    old_token = keyring.seal("AB-123-CD", AAD)
    dek, wrapped = keyring.new_data_key()
    rotated = keyring.with_new_active_key()
    assert rotated.active_id != keyring.active_id
    assert rotated.open(old_token, AAD) == "AB-123-CD"
    rewrapped = rotated.wrap(rotated.unwrap(wrapped))
    assert parse_token(rewrapped)[1] == rotated.active_id
    assert rotated.unwrap(rewrapped) == dek
    new_token = rotated.seal("AB-123-CD", AAD)
    assert parse_token(new_token)[1] == rotated.active_id
    # A keyring that lost the old key cannot read what only the old key sealed, and says
    # which key is missing (never that the data was erased: not a DecryptionError).
    only_new = Keyring(
        root_keys={rotated.active_id: rotated.root_keys[rotated.active_id]},
        active_id=rotated.active_id,
        index_key=rotated.index_key,
    )
    with pytest.raises(UnknownKeyError) as missing:
        only_new.open(old_token, AAD)
    assert missing.value.key_id == keyring.active_id
    assert not isinstance(missing.value, DecryptionError)


def test_a_process_learns_a_rotation_from_the_key_file(tmp_path):
    path = tmp_path / "keys.json"
    first = Keyring.generate()
    path.write_text(first.to_json())
    serving = Keyring.from_config({"BACKOFFICE_KEY_FILE": str(path)})
    rotated = serving.with_new_active_key()  # another process rotates and writes the file
    path.write_text(rotated.to_json())
    os.utime(path, ns=(1, 10**18))  # a different stamp, whatever the clock's resolution
    new_token = rotated.seal("AB-123-CD", AAD)
    # An unknown key id: the file is read again at once.
    assert serving.open(new_token, AAD) == "AB-123-CD"
    assert serving.active_id == rotated.active_id
    _dek, wrapped = serving.new_data_key()
    assert parse_token(wrapped)[1] == rotated.active_id


def test_new_data_follows_the_active_key_of_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(crypto, "KEY_REFRESH_SECONDS", 0.0)
    path = tmp_path / "keys.json"
    path.write_text(Keyring.generate().to_json())
    serving = Keyring.from_config({"BACKOFFICE_KEY_FILE": str(path)})
    rotated = serving.with_new_active_key()
    path.write_text(rotated.to_json())
    os.utime(path, ns=(1, 10**18))
    assert parse_token(serving.seal("x", AAD))[1] == rotated.active_id


def test_blind_index_is_stable_keyed_and_separated_per_kind(keyring):
    a = keyring.blind_index("phone", "+33612345678")
    assert a == keyring.blind_index("phone", "+33612345678")
    assert a != keyring.blind_index("pseudonym", "+33612345678")
    assert a != Keyring.generate().blind_index("phone", "+33612345678")
    assert "612345678" not in a and len(a) == 32
    # Rotation of root keys does not change indexes (they use the separate index key).
    assert keyring.with_new_active_key().blind_index("phone", "+33612345678") == a


def test_keyring_json_round_trip(keyring):
    again = Keyring.from_json(keyring.to_json())
    assert again.open(keyring.seal("x", AAD), AAD) == "x"


def test_key_material_never_appears_in_repr_or_errors(keyring):
    secret_b64 = json.loads(keyring.to_json())["keys"][keyring.active_id]
    assert secret_b64 not in repr(keyring)
    with pytest.raises(KeyringError) as error:
        Keyring.from_json('{"active": "k1", "keys": {"k1": "' + secret_b64[:10] + '"}}')
    assert secret_b64[:10] not in str(error.value)


def test_missing_key_material_has_a_clear_message():
    with pytest.raises(KeyringError, match="keys generate"):
        Keyring.from_config({"BACKOFFICE_KEYS": None, "BACKOFFICE_KEY_FILE": "/nonexistent"})
