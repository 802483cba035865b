"""API client keys: shown once, stored only as a SHA-256 hash; disabled, rotated, deleted.

Keys are 256 random bits, so a plain hash is enough (no slow KDF needed: nothing to guess),
and a lookup by hash is a single indexed query.

* A disabled (``active`` unticked) or deleted client's keys are refused at the next request.
* A rotation issues a new key (shown once) and keeps the previous one working for a grace
  period the Admin chooses (0 to ``MAX_GRACE_DAYS`` days), so that the client's maintainer can
  deploy the new key without an outage; after that only the new key works.
* Deleting a client only marks it: reports, idempotency records and counted checks keep
  referring to it, and its history stays in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from backoffice.extensions import db
from backoffice.models.api_client import ApiClient
from backoffice.models.base import utcnow
from backoffice.services import audit

KEY_PREFIX = "jas_"
MAX_GRACE_DAYS = 7


class KeyRefused(ValueError):
    """A rotation that cannot be made (the message is for the Admin)."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def issue_key(client: ApiClient) -> str:
    """Give the client a new key (replacing any old one at once) and return it, once."""
    key = new_key()
    client.key_prefix = key[: len(KEY_PREFIX) + 6]
    client.key_hash = _hash(key)
    client.previous_key_hash = None
    client.previous_key_expires_at = None
    return key


def rotate(client: ApiClient, grace_days: int) -> str:
    """A new key, returned once; the current one keeps working for ``grace_days`` days."""
    if client.deleted_at is not None:
        raise KeyRefused(_l("This client was deleted."))
    if not isinstance(grace_days, int) or not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise KeyRefused(_l("The grace period is 0 to %(days)d days.", days=MAX_GRACE_DAYS))
    previous = client.key_hash
    key = issue_key(client)
    if grace_days:
        client.previous_key_hash = previous
        client.previous_key_expires_at = utcnow() + dt.timedelta(days=grace_days)
    audit.record("api_client_key_rotated", client, details={"grace_days": grace_days})
    return key


def soft_delete(client: ApiClient) -> None:
    """Mark the client deleted: its keys stop working, its rows and history stay."""
    client.deleted_at = utcnow()
    client.active = False
    client.previous_key_hash = None
    client.previous_key_expires_at = None


def create_client(name: str, description: str | None = None) -> tuple[ApiClient, str]:
    client = ApiClient(name=name, description=description, active=True)
    key = issue_key(client)
    db.session.add(client)
    db.session.flush()
    audit.record("api_client_created", client)
    return client, key


def authenticate(key: str | None) -> ApiClient | None:
    """The active, undeleted client holding this key (or its previous one, during the
    rotation's grace period), or None."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _hash(key)
    now = utcnow()
    client = db.session.scalar(
        select(ApiClient).where(
            or_(
                ApiClient.key_hash == digest,
                and_(
                    ApiClient.previous_key_hash == digest,
                    ApiClient.previous_key_expires_at > now,
                ),
            )
        )
    )
    if client is None or not client.active or client.deleted_at is not None:
        return None
    current = hmac.compare_digest(client.key_hash, digest)
    if not current and not hmac.compare_digest(client.previous_key_hash or "", digest):
        return None
    client.last_used_at = now
    return client
