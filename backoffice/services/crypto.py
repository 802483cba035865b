"""Encryption of confidential data and blind indexes for lookups.

Design (after Paragon's CipherSweet, with `cryptography`):

* Root keys live outside the database (``BACKOFFICE_KEYS`` JSON or a key file). Each has an
  id; one is active, older ones are kept so that data sealed under them stays readable
  during and after a rotation.
* Purpose keys are derived from a root key with HKDF-SHA256 (``wrap``, ``field``); a leak of
  one purpose key does not give the others.
* Confidential records carry their own data key (DEK), stored only wrapped (AES-GCM) by the
  active root's wrap key. Destroying the wrapped DEK erases that record for good, backups
  included (crypto-shredding). Rotation re-wraps DEKs: cheap, and reads never stop.
* Every ciphertext is AES-256-GCM with associated data naming table, column, row and
  organisation: a ciphertext copied to another row or organisation fails to decrypt.
* Blind indexes are HMAC-SHA256 of the normalised value under a key derived per identifier
  kind from a separate index root. It is not rotated with the others (that would need a full
  re-index) and is truncated to 128 bits: collisions stay negligible, so a match needs no
  candidate decryption; equal values still give equal indexes (frequency leak, accepted and
  documented in docs/data-protection.md).

Token format, stored as text: ``v1:<mode>:<key id>:<base64(nonce ‖ ciphertext)>`` where mode
is ``r`` (sealed under a root-derived field key) or ``d`` (sealed under a record's DEK).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a secret
_NONCE_BYTES = 12
_KEY_BYTES = 32
BLIND_INDEX_BYTES = 16


class CryptoError(Exception):
    """Base class of the errors of this module."""


class KeyringError(CryptoError):
    """The key material is missing or malformed. The message never contains key bytes."""


class DecryptionError(CryptoError):
    """A ciphertext cannot be opened: tampered, moved to another row, or its key destroyed."""


class UnknownKeyError(CryptoError):
    """A value names a root key this process does not have, even after re-reading the key
    source: a rotation's key file not deployed here, or a key file older than the data.
    Not a ``DecryptionError``: the data is not erased and must never be shown or treated as
    such (a transient failure: 503 for a page, a delivery put back in the queue)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"Root key {key_id!r} is missing from the key material: install the current key "
            "file (a rotation added it), or restore the key file that goes with this data."
        )
        self.key_id = key_id


# How often a process checks its key file for a rotation done by another process.
KEY_REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class KeySource:
    """Where a process's keys come from: a key file it can re-read after a rotation, or the
    JSON of ``BACKOFFICE_KEYS`` (fixed for the life of the process)."""

    path: str | None = None
    text: str | None = None

    def stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def load(self) -> Keyring:
        if self.text is not None:
            return Keyring.from_json(self.text)
        return Keyring.from_json(Path(self.path).read_text(encoding="utf-8"))


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _derive(root: bytes, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=purpose.encode())
    return hkdf.derive(root)


def associated_data(table: str, column: str, row: str, organisation: int | str | None) -> bytes:
    """The context a ciphertext is bound to."""
    return f"{table}|{column}|{row}|{organisation if organisation is not None else '-'}".encode()


@dataclass(repr=False)
class Keyring:
    """Root keys by id, the active one, and the blind-index root."""

    root_keys: dict[str, bytes]
    active_id: str
    index_key: bytes
    _derived: dict[tuple[str, str], bytes] = field(default_factory=dict)
    source: KeySource | None = None
    _stamp: tuple[int, int] | None = None
    _checked_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.active_id not in self.root_keys:
            raise KeyringError(f"The active key id {self.active_id!r} has no key material.")
        for key_id, key in {**self.root_keys, "index": self.index_key}.items():
            if len(key) != _KEY_BYTES:
                raise KeyringError(f"Key {key_id!r} must be {_KEY_BYTES} bytes long.")

    def __repr__(self) -> str:  # keys never reach logs or error pages
        return f"Keyring(active={self.active_id!r}, ids={sorted(self.root_keys)!r})"

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            keys = {str(k): _b64d(v) for k, v in data["keys"].items()}
            return cls(
                root_keys=keys, active_id=str(data["active"]), index_key=_b64d(data["index"])
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise KeyringError(
                "The key material is malformed: expected JSON with 'active', 'keys' and 'index'."
            ) from error

    @classmethod
    def from_config(cls, config: Mapping) -> Keyring:
        if config.get("BACKOFFICE_KEYS"):
            return cls.from_json(config["BACKOFFICE_KEYS"])
        path = config.get("BACKOFFICE_KEY_FILE")
        if path and Path(path).is_file():
            source = KeySource(path=str(path))
            keyring = source.load()
            keyring.source, keyring._stamp = source, source.stamp()
            keyring._checked_at = time.monotonic()
            return keyring
        raise KeyringError(
            "No key material: set BACKOFFICE_KEYS or BACKOFFICE_KEY_FILE, or create a key file "
            "with `flask --app wsgi keys generate`."
        )

    @classmethod
    def generate(cls) -> Keyring:
        key_id = new_key_id()
        return cls(
            root_keys={key_id: secrets.token_bytes(_KEY_BYTES)},
            active_id=key_id,
            index_key=secrets.token_bytes(_KEY_BYTES),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active_id,
                "keys": {k: _b64e(v) for k, v in self.root_keys.items()},
                "index": _b64e(self.index_key),
            },
            indent=2,
        )

    def with_new_active_key(self) -> Keyring:
        """A keyring with a fresh active key; the old ones stay for reading."""
        key_id = new_key_id()
        while key_id in self.root_keys:
            key_id = new_key_id()
        keys = {**self.root_keys, key_id: secrets.token_bytes(_KEY_BYTES)}
        return Keyring(
            root_keys=keys, active_id=key_id, index_key=self.index_key, source=self.source
        )

    # -- learning a rotation done elsewhere ----------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Re-read the key source if it changed (checked every ``KEY_REFRESH_SECONDS``, or
        now when ``force``): new keys are added, the active one follows the file, and keys
        this process knew are kept. Returns True when something new was learnt."""
        if self.source is None or self.source.path is None:
            return False
        now = time.monotonic()
        if not force and now - self._checked_at < KEY_REFRESH_SECONDS:
            return False
        with self._lock:
            self._checked_at = now
            stamp = self.source.stamp()
            if stamp is None or (stamp == self._stamp and not force):
                return False
            try:
                fresh = self.source.load()
            except (KeyringError, OSError):  # a file being replaced: keep what we have
                return False
            if fresh.index_key != self.index_key:
                raise KeyringError("The key file's blind-index key changed; refusing it.")
            learnt = set(fresh.root_keys) - set(self.root_keys) or fresh.active_id != self.active_id
            self.root_keys.update(fresh.root_keys)
            self.active_id = fresh.active_id
            self._stamp = stamp
            return bool(learnt)

    def _active_id(self) -> str:
        """The active key id, after a periodic look for a rotation (new data under the
        newest key, so that a rotation's last sweep finds nothing left behind)."""
        self.refresh()
        return self.active_id

    # -- derived keys --------------------------------------------------------------------
    def _purpose_key(self, key_id: str, purpose: str) -> bytes:
        cached = self._derived.get((key_id, purpose))
        if cached is None:
            root = self.root_keys.get(key_id)
            if root is None and self.refresh(force=True):  # rotated by another process
                root = self.root_keys.get(key_id)
            if root is None:
                raise UnknownKeyError(key_id)
            cached = self._derived[(key_id, purpose)] = _derive(root, purpose)
        return cached

    # -- sealing under root-derived field keys (lookup-class data) -----------------------
    def seal(self, plaintext: str, aad: bytes) -> str:
        key_id = self._active_id()
        key = self._purpose_key(key_id, "field")
        return _token("r", key_id, _gcm_encrypt(key, plaintext.encode("utf-8"), aad))

    def open(self, token: str, aad: bytes) -> str:
        mode, key_id, payload = parse_token(token)
        if mode != "r":
            raise DecryptionError("This value is sealed with a record key; open it with one.")
        key = self._purpose_key(key_id, "field")
        return _gcm_decrypt(key, payload, aad).decode("utf-8")

    # -- record data keys (crypto-shredding) ---------------------------------------------
    def new_data_key(self) -> tuple[bytes, str]:
        """A fresh DEK and its wrapped form (the only form that is stored)."""
        dek = secrets.token_bytes(_KEY_BYTES)
        return dek, self.wrap(dek)

    def wrap(self, dek: bytes) -> str:
        key_id = self._active_id()
        key = self._purpose_key(key_id, "wrap")
        return _token("w", key_id, _gcm_encrypt(key, dek, b"data-key"))

    def unwrap(self, wrapped: str) -> bytes:
        mode, key_id, payload = parse_token(wrapped)
        if mode != "w":
            raise DecryptionError("Not a wrapped data key.")
        return _gcm_decrypt(self._purpose_key(key_id, "wrap"), payload, b"data-key")

    def wrapped_key_id(self, wrapped: str) -> str:
        return parse_token(wrapped)[1]

    # -- blind indexes -------------------------------------------------------------------
    def blind_index(self, kind: str, normalised: str) -> str:
        key = self._derived.get(("index", kind))
        if key is None:
            key = self._derived[("index", kind)] = _derive(self.index_key, f"blind-index:{kind}")
        digest = hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).digest()
        return digest[:BLIND_INDEX_BYTES].hex()


def seal_with_data_key(dek: bytes, data_key_id: int | str, plaintext: str, aad: bytes) -> str:
    return _token("d", str(data_key_id), _gcm_encrypt(dek, plaintext.encode("utf-8"), aad))


def open_with_data_key(dek: bytes, token: str, aad: bytes) -> str:
    mode, _key_id, payload = parse_token(token)
    if mode != "d":
        raise DecryptionError("This value is not sealed with a record key.")
    return _gcm_decrypt(dek, payload, aad).decode("utf-8")


def is_token(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_VERSION + ":")


def parse_token(token: str) -> tuple[str, str, bytes]:
    try:
        version, mode, key_id, payload = token.split(":", 3)
        if version != TOKEN_VERSION or mode not in {"r", "d", "w"}:
            raise ValueError
        return mode, key_id, _b64d(payload)
    except (ValueError, AttributeError):
        raise DecryptionError("Malformed ciphertext.") from None


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def _token(mode: str, key_id: str, payload: bytes) -> str:
    return f"{TOKEN_VERSION}:{mode}:{key_id}:{_b64e(payload)}"


def _gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _gcm_decrypt(key: bytes, payload: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(payload[:_NONCE_BYTES], payload[_NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionError(
            "Decryption refused: the value was altered, moved, or its key was destroyed."
        ) from None
