"""Writing and checking the audit trail.

Callers name an action and an object (type and id or reference), never a personal value:
``details`` holds codes and counts only. Events join the caller's transaction, so an action
that is rolled back leaves no event claiming it happened, and a read whose event cannot be
committed is not served (``backoffice.transactions``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import SimpleNamespace

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import insert, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow


def record(
    action: str,
    obj: object | None = None,
    *,
    object_type: str | None = None,
    object_id: str | int | None = None,
    outcome: str = "success",
    details: dict | None = None,
    actor: object | None = None,
    organisation_id: int | None = None,
) -> AuditEvent:
    """Add one event to the current session (committed with the caller's work)."""
    actor = actor if actor is not None else _current_actor()
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else _object_key(obj)
        if organisation_id is None:
            organisation_id = getattr(obj, "organisation_id", None)
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=getattr(actor, "id", None) if getattr(actor, "username", None) else None,
        actor_name=_actor_name(actor),
        organisation_id=organisation_id
        if organisation_id is not None
        else getattr(actor, "organisation_id", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        outcome=outcome,
        details=details or {},
    )
    event.seal = compute_seal(event)
    db.session.add(event)
    return event


def record_decryption(obj: object, field: str) -> None:
    """Audit a read of confidential data, once per object and field within a request."""
    key = (type(obj).__name__, _object_key(obj), field)
    seen = _seen_decryptions()
    if key in seen:
        return
    seen.add(key)
    record("decrypt", obj, details={"field": field})


def record_decryptions(records: list, field: str) -> None:
    """``record_decryption`` for many rows at once: the same events, in one INSERT.

    Shares the once-per-request set with ``record_decryption``, so a row read here and
    through its ``Sealed`` attribute in the same request is audited once.
    """
    record_decryptions_of((obj, field) for obj in records)


def record_decryptions_of(reads: Iterable[tuple[object, str]]) -> None:
    """``record_decryptions`` for (row, field) pairs of any rows and fields: one INSERT for
    everything a page decrypted (a case page: contact, notes, referral notes, actions)."""
    seen = _seen_decryptions()
    actor = _current_actor()
    # Who and when are the same for every row: resolved once (the actor is a proxy), and
    # rows are plain values, not ORM objects (a case page audits hundreds of notes at once).
    common = {
        "occurred_at": utcnow(),
        "actor_id": getattr(actor, "id", None) if getattr(actor, "username", None) else None,
        "actor_name": _actor_name(actor),
        "action": "decrypt",
        "outcome": "success",
    }
    rows = []
    for obj, field in reads:
        key = (type(obj).__name__, _object_key(obj), field)
        if key in seen:
            continue
        seen.add(key)
        row = {
            **common,
            "organisation_id": getattr(obj, "organisation_id", None),
            "object_type": type(obj).__name__,
            "object_id": _object_key(obj),
            "details": {"field": field},
        }
        rows.append(row | {"seal": compute_seal(SimpleNamespace(**row))})
    if rows:
        # The table, not the mapped class: a plain executemany, without the ORM bulk path.
        db.session.execute(insert(AuditEvent.__table__), rows)


def compute_seal(event: AuditEvent | SimpleNamespace) -> str | None:
    if not has_app_context() or "keyring" not in current_app.extensions:
        return None
    keyring = current_app.extensions["keyring"]
    return keyring.blind_index("audit-seal", _canonical(event))


def verify(events: Iterable[AuditEvent] | None = None) -> list[int]:
    """Ids of events whose seal does not match their content (altered behind our back)."""
    if events is None:
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [e.id for e in events if e.seal is not None and e.seal != compute_seal(e)]


def _canonical(event: AuditEvent) -> str:
    return json.dumps(
        [
            event.occurred_at.isoformat(timespec="microseconds"),
            event.actor_id,
            event.actor_name,
            event.organisation_id,
            event.action,
            event.object_type,
            event.object_id,
            event.outcome,
            event.details or {},
        ],
        sort_keys=True,
        separators=(",", ":"),
    )


def _seen_decryptions() -> set:
    if not has_request_context():
        return set()
    if not hasattr(g, "audited_decryptions"):
        g.audited_decryptions = set()
    return g.audited_decryptions


def _current_actor() -> object | None:
    if not has_request_context():
        return None
    api_client = getattr(g, "api_client", None)
    if api_client is not None:
        return api_client
    user = getattr(g, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def _actor_name(actor: object | None) -> str:
    if actor is None:
        return "system"
    username = getattr(actor, "username", None)
    if username:
        return str(username)
    return f"api:{getattr(actor, 'name', '?')}"


def _object_key(obj: object) -> str | None:
    for attribute in ("reference", "id"):
        value = getattr(obj, attribute, None)
        if value is not None:
            return str(value)
    return None
