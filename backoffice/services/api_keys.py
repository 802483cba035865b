"""API client keys: shown once at creation, stored only as a SHA-256 hash.

Keys are 256 random bits, so a plain hash is enough (no slow KDF needed: nothing to guess),
and a lookup by hash is a single indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.api_client import ApiClient
from backoffice.models.base import utcnow
from backoffice.services import audit

KEY_PREFIX = "jas_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def issue_key(client: ApiClient) -> str:
    """Give the client a new key (replacing any old one) and return it, once."""
    key = new_key()
    client.key_prefix = key[: len(KEY_PREFIX) + 6]
    client.key_hash = _hash(key)
    return key


def create_client(name: str, description: str | None = None) -> tuple[ApiClient, str]:
    client = ApiClient(name=name, description=description, active=True)
    key = issue_key(client)
    db.session.add(client)
    db.session.flush()
    audit.record("api_client_created", client)
    return client, key


def authenticate(key: str | None) -> ApiClient | None:
    """The active client holding this key, or None."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _hash(key)
    client = db.session.scalar(select(ApiClient).where(ApiClient.key_hash == digest))
    if client is None or not client.active or not hmac.compare_digest(client.key_hash, digest):
        return None
    client.last_used_at = utcnow()
    return client
