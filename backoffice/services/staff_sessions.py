"""Server-side records of signed-in browsers (one ``StaffSession`` per sign-in).

Flask's signed cookie alone cannot be ended from the server nor tied to a browser, and
``SESSION_PROTECTION="strong"`` does nothing for permanent sessions. So a sign-in opens a
record: the cookie keeps a random token, the record its hash, the user and the hash of the
browser's user agent. A request whose cookie has no live record, or comes with another user
agent, is signed out. Signing out ends only this record; "Mes sessions" lists and ends the
others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app
from sqlalchemy import delete, or_, select, update

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.sign_in import StaffSession
from backoffice.services import audit, login_delay

# last_seen_at is written at most this often (a GET may touch only this column).
TOUCH_SECONDS = 60


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(user, user_agent: str) -> str:
    """Record a new signed-in browser; answers the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        StaffSession(
            token_hash=_hash(token),
            user_id=user.id,
            user_agent_hash=_hash(user_agent or ""),
            created_at=now,
            last_seen_at=now,
        )
    )
    db.session.flush()
    return token


def _is_live(record: StaffSession, now: dt.datetime) -> bool:
    idle = current_app.config["PERMANENT_SESSION_LIFETIME"]
    absolute = dt.timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    return (
        record.ended_at is None
        and now - record.last_seen_at <= idle
        and now - record.created_at <= absolute
    )


def current(token: str | None, user_id: int, user_agent: str) -> StaffSession | None:
    """The live record this cookie belongs to, if it is this user's and this browser's."""
    if not token:
        return None
    record = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == _hash(token)))
    return check(record, user_id, user_agent)


def record_condition(token: str | None):
    """The condition naming this cookie's record, to load it in the query of its user
    (``security.load_user``: one query per request instead of two)."""
    return StaffSession.token_hash == _hash(token or "")


def check(record: StaffSession | None, user_id: int, user_agent: str) -> StaffSession | None:
    """``record`` if it is live, this user's and this browser's (touched now and then)."""
    now = utcnow()
    if record is None or record.user_id != user_id or not _is_live(record, now):
        return None
    if not secrets.compare_digest(record.user_agent_hash, _hash(user_agent or "")):
        return None
    if (now - record.last_seen_at).total_seconds() >= TOUCH_SECONDS:
        record.last_seen_at = now
    return record


def current_id(token: str | None) -> int | None:
    """The id of this cookie's session record (to mark it in the list)."""
    if not token:
        return None
    return db.session.scalar(select(StaffSession.id).where(StaffSession.token_hash == _hash(token)))


def live_sessions(user) -> list[StaffSession]:
    """The user's sessions still open, most recently used first."""
    now = utcnow()
    rows = db.session.scalars(
        select(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    )
    return [row for row in rows if _is_live(row, now)]


def end(record: StaffSession, *, reason: str) -> None:
    if record.ended_at is None:
        record.ended_at = utcnow()
        audit.record(
            "session_ended",
            object_type="User",
            object_id=record.user_id,
            details={"session": record.id, "reason": reason},
        )


def end_token(token: str | None) -> None:
    """End the session of this cookie (sign-out)."""
    if token:
        record = db.session.scalar(
            select(StaffSession).where(StaffSession.token_hash == _hash(token))
        )
        if record is not None:
            end(record, reason="logout")


def end_all(user_id: int, *, keep_token: str | None = None) -> None:
    """End every session of a user (deactivation, password change), but ``keep_token``'s."""
    statement = update(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)
    )
    if keep_token:
        statement = statement.where(StaffSession.token_hash != _hash(keep_token))
    db.session.execute(statement.values(ended_at=utcnow()))


def own_session(user, session_id: int) -> StaffSession | None:
    """One of the user's own sessions (another user's answers None, like a missing one)."""
    record = db.session.get(StaffSession, session_id)
    return record if record is not None and record.user_id == user.id else None


def purge() -> int:
    """The hourly job: forget sessions that ended or expired, and failed-attempt counters
    whose window passed (who signed in from where is not kept longer than needed)."""
    now = utcnow()
    idle = current_app.config["PERMANENT_SESSION_LIFETIME"]
    absolute = dt.timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    result = db.session.execute(
        delete(StaffSession).where(
            or_(
                StaffSession.ended_at.is_not(None),
                StaffSession.last_seen_at < now - idle,
                StaffSession.created_at < now - absolute,
            )
        )
    )
    login_delay.forget_expired()
    return result.rowcount
