"""Writing and checking the audit trail.

Callers name an action and an object (type and id or reference), never a personal value:
``details`` holds codes and counts only. Events join the caller's transaction, so an action
that is rolled back leaves no event claiming it happened, and a read whose event cannot be
committed is not served (``backoffice.transactions``).

The trail is a hash chain: each event's seal (HMAC under a key derived from the key source)
covers its content, its ``chain_index`` and the previous event's seal. The first append of a
transaction locks the chain head (``AuditChainHead``: a row lock on PostgreSQL, the write
lock on SQLite) and reads the tail; later appends of the same transaction continue from it.
``verify_chain`` names the first broken row; a signed checkpoint of the head, exported on a
schedule outside the database (``export_checkpoint``), makes a cut tail visible too.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from backoffice.extensions import db
from backoffice.models.audit import AuditChainHead, AuditEvent
from backoffice.models.base import utcnow
from backoffice.services.timezones import months_before

GENESIS = "genesis"  # the "previous seal" of the first event
_TAIL = "audit_chain_tail"  # session.info key: (index, seal) of this transaction's last event


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
    event.chain_index, previous = _next_link()
    event.seal = compute_seal(event, previous)
    _advance(event.chain_index, event.seal)
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


def record_decryptions_of(reads: Iterable[tuple[object, str]], *, case: str | None = None) -> None:
    """``record_decryptions`` for (row, field) pairs of any rows and fields: one INSERT for
    everything a page decrypted (a case page: contact, notes, referral notes, actions).
    ``case``, the reference of the case the rows belong to, is kept in each event's details
    (the audit trail then says "read 3 notes of case C-…")."""
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
        index, previous = _next_link()
        row = {
            **common,
            "organisation_id": getattr(obj, "organisation_id", None),
            "object_type": type(obj).__name__,
            "object_id": _object_key(obj),
            "details": {"field": field, "case": case} if case else {"field": field},
            "chain_index": index,
        }
        row["seal"] = compute_seal(SimpleNamespace(**row), previous)
        _advance(index, row["seal"])
        rows.append(row)
    if rows:
        # The table, not the mapped class: a plain executemany, without the ORM bulk path.
        db.session.execute(insert(AuditEvent.__table__), rows)


def compute_seal(event: AuditEvent | SimpleNamespace, previous: str | None) -> str | None:
    """The HMAC of the event's content, its place in the chain and the previous seal."""
    if not has_app_context() or "keyring" not in current_app.extensions:
        return None
    keyring = current_app.extensions["keyring"]
    return keyring.blind_index("audit-seal", _canonical(event, previous))


# --- appending: one chain, whatever the number of writers ------------------------------------


def _next_link() -> tuple[int, str]:
    """The index of the next event and the seal it follows."""
    tail = db.session.info.get(_TAIL)
    if tail is None:
        # No autoflush: the caller's pending changes flush when it decides (a stale row
        # must fail at its commit, not inside the audit call).
        with db.session.no_autoflush:
            tail = _lock_and_read_tail()
    return tail[0] + 1, tail[1]


def _advance(index: int, seal: str | None) -> None:
    db.session.info[_TAIL] = (index, seal or "")


def _lock_and_read_tail() -> tuple[int, str]:
    # One statement takes the head row's lock (PostgreSQL; the write lock on SQLite) until
    # this transaction ends and returns the tail the trigger keeps there: after waiting for
    # another appender, PostgreSQL returns the row as that appender committed it.
    head = AuditChainHead.__table__
    row = db.session.execute(
        update(head)
        .where(head.c.id == 1)
        .values(last_index=head.c.last_index)
        .returning(head.c.last_index, head.c.last_seal)
    ).first()
    if row is None:  # a database made without the migration's head row
        db.session.execute(insert(head).values(id=1, last_index=0))
        return 0, GENESIS
    return (row.last_index, row.last_seal) if row.last_index else (0, GENESIS)


@sa_event.listens_for(Session, "after_commit")
@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_tail(session, *_args) -> None:
    # Another transaction may append next: the tail is read again under the lock.
    session.info.pop(_TAIL, None)


# --- checking -------------------------------------------------------------------------------


@dataclass
class ChainCheck:
    """What ``verify_chain`` found: the first broken row (id and why), or none."""

    count: int
    broken_id: int | None = None
    broken_index: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.reason is None


def verify_chain(checkpoint_dir: str | None = None) -> ChainCheck:
    """Walk the chain in order; stop at the first row that breaks it.

    Detected: an altered row (its seal), a forged or inserted row (no valid seal without the
    key), a deleted row (a gap in the indexes and the next seal), rows swapped (seals), an
    unsealed row, a row outside the chain, and, with a checkpoint, a cut tail.
    """
    previous, expected, count = GENESIS, 1, 0
    statement = select(AuditEvent).order_by(
        AuditEvent.chain_index.is_(None), AuditEvent.chain_index, AuditEvent.id
    )
    for event in db.session.scalars(statement).yield_per(1000):
        count += 1
        reason = _break_of(event, expected, previous)
        if reason:
            return ChainCheck(count, event.id, event.chain_index, reason)
        previous, expected = event.seal, expected + 1
    return _check_checkpoint(ChainCheck(count), checkpoint_dir, expected - 1, previous)


def _break_of(event: AuditEvent, expected: int, previous: str) -> str | None:
    if event.chain_index is None:
        return "outside the chain (inserted behind the application's back)"
    if event.seal is None:
        return "unsealed"
    if event.chain_index != expected:
        return f"expected chain position {expected}, found {event.chain_index} (rows deleted)"
    if event.pruned_at is not None:
        # A tombstone: its payload was cleared by the retention job, so its seal cannot be
        # recomputed; it still links the chain (the next seal covers it).
        return _tombstone_break(event, previous)
    if not hmac.compare_digest(event.seal, compute_seal(event, previous) or ""):
        return "seal does not match (row altered, forged, reordered or its predecessor deleted)"
    return None


def tombstone_link(chain_index: int, seal: str, previous: str) -> str:
    """What a tombstone keeps in ``details``: its seal bound to its place and predecessor,
    so a run of tombstones still breaks where one of their seals is altered."""
    keyring = current_app.extensions["keyring"]
    return keyring.blind_index("audit-tombstone", f"{chain_index}:{previous}:{seal}")


# Reads of confidential data: ``audit.record_decryption*`` ("decrypt") and page views.
READ_ACTIONS = ("decrypt",)
READ_SUFFIX = "_viewed"


def is_read(action: str | None) -> bool:
    return bool(action) and (action in READ_ACTIONS or action.endswith(READ_SUFFIX))


def retention_cutoffs(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """(reads older than this are due, changes older than this are due)."""
    now = now or utcnow()
    config = current_app.config
    return (
        months_before(now, int(config.get("AUDIT_READ_RETENTION_MONTHS", 12))),
        months_before(now, int(config.get("AUDIT_CHANGE_RETENTION_MONTHS", 60))),
    )


def _tombstone_break(event: AuditEvent, previous: str) -> str | None:
    link = (event.details or {}).get("link", "")
    if not hmac.compare_digest(link, tombstone_link(event.chain_index, event.seal, previous)):
        return "tombstone seal does not match (tombstone altered or its predecessor deleted)"

    # Judged at its pruning (not sealed, so never later than now).
    read_cutoff, change_cutoff = retention_cutoffs(min(event.pruned_at, utcnow()))
    if event.occurred_at >= (read_cutoff if is_read(event.action) else change_cutoff):
        return "tombstone of an event younger than its retention period (pruned early or forged)"
    if event.actor_id is not None or event.object_id is not None or set(event.details) != {"link"}:
        return "tombstone still holding data (row altered)"
    return None


def verify(events: Iterable[AuditEvent] | None = None) -> list[int]:
    """Ids of the first broken row of the chain (empty when it is intact).

    ``events``, when given, must be rows of the chain: their seals are checked against
    their stored predecessors.
    """
    if events is None:
        check = verify_chain()
        return [] if check.intact else [check.broken_id]
    broken = []
    for event in events:
        previous = GENESIS
        if event.chain_index and event.chain_index > 1:
            previous = db.session.scalar(
                select(AuditEvent.seal).where(AuditEvent.chain_index == event.chain_index - 1)
            )
        if _break_of(event, event.chain_index or 0, previous or ""):
            broken.append(event.id)
    return broken


# --- checkpoints outside the database ------------------------------------------------------


def checkpoint_signature(payload: dict) -> str:
    keyring = current_app.extensions["keyring"]
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return keyring.blind_index("audit-checkpoint", body)


def export_checkpoint(directory: str | None = None) -> Path | None:
    """Write a signed checkpoint of the chain head to ``AUDIT_CHECKPOINT_DIR`` (a job).

    The file lives outside the database and its backups: someone who cuts the tail of the
    trail cannot take the checkpoint back, and ``verify`` then sees the checkpointed row
    missing.
    """
    directory = directory or current_app.config.get("AUDIT_CHECKPOINT_DIR")
    if not directory:
        return None
    head = db.session.execute(
        select(AuditEvent.id, AuditEvent.chain_index, AuditEvent.seal)
        .where(AuditEvent.chain_index.is_not(None))
        .order_by(AuditEvent.chain_index.desc())
        .limit(1)
    ).first()
    if head is None:
        return None
    moment = utcnow()
    payload = {
        "event_id": head.id,
        "chain_index": head.chain_index,
        "seal": head.seal,
        "count": head.chain_index,
        "time": moment.isoformat(timespec="seconds") + "Z",
    }
    payload["signature"] = checkpoint_signature(payload)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"audit-checkpoint-{moment:%Y%m%dT%H%M%S}-{head.chain_index}.json"
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


def latest_checkpoint(directory: str) -> dict | None:
    """The checkpoint of the longest chain found in ``directory`` (signature checked)."""
    best = None
    for path in Path(directory).glob("audit-checkpoint-*.json"):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            signature = payload.pop("signature")
        except (ValueError, KeyError, OSError):
            continue
        if not hmac.compare_digest(signature, checkpoint_signature(payload)):
            continue
        if best is None or payload["chain_index"] > best["chain_index"]:
            best = payload
    return best


def _check_checkpoint(
    check: ChainCheck, directory: str | None, last_index: int, last_seal: str
) -> ChainCheck:
    directory = directory or current_app.config.get("AUDIT_CHECKPOINT_DIR")
    if not directory or not Path(directory).is_dir():
        return check
    point = latest_checkpoint(directory)
    if point is None or point["chain_index"] > last_index:
        if point is not None:
            check.broken_id, check.broken_index = point["event_id"], point["chain_index"]
            check.reason = (
                f"the chain ends at position {last_index}, but the checkpoint of "
                f"{point['time']} names position {point['chain_index']} (tail cut)"
            )
        return check
    seal = db.session.scalar(
        select(AuditEvent.seal).where(AuditEvent.chain_index == point["chain_index"])
    )
    if seal != point["seal"]:
        check.broken_id, check.broken_index = point["event_id"], point["chain_index"]
        check.reason = f"differs from the checkpoint of {point['time']} (chain rewritten)"
    return check


def _canonical(event: AuditEvent, previous: str | None) -> str:
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
            event.chain_index,
            previous,
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
