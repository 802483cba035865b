"""A growing delay after failed sign-ins, per (username, client address), instead of a lock.

A hard lock let anyone lock any known username at will. Here the failures of one address
delay only that address's next attempts for that username: after ``FREE_ATTEMPTS`` failures
each further one doubles the wait (2 s, 4 s, 8 s… up to ``LOGIN_DELAY_MAX_SECONDS``). The
count is forgotten once ``LOGIN_FAILURE_WINDOW_MINUTES`` have passed since the last failure.
Wrong passwords and wrong second-factor codes count alike. Unknown usernames are counted
too, so the delay does not tell which accounts exist.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.sign_in import LoginThrottle

FREE_ATTEMPTS = 3
_MAX_USERNAME = 256


def _key(username: str, address: str | None) -> tuple[str, str]:
    return (username or "").strip().lower()[:_MAX_USERNAME], (address or "unknown")[:64]


def _window() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])


def delay_after(failures: int) -> int:
    """Seconds to wait after this many failures in a row: 0, 0, 0, 2, 4, 8… (capped)."""
    if failures <= FREE_ATTEMPTS:
        return 0
    return min(2 ** (failures - FREE_ATTEMPTS), current_app.config["LOGIN_DELAY_MAX_SECONDS"])


def _row(username: str, address: str | None) -> LoginThrottle | None:
    row = _find(*_key(username, address))
    if row is not None and utcnow() - row.last_failure_at > _window():
        return None  # the window has passed: a fresh count
    return row


def seconds_to_wait(username: str, address: str | None) -> int:
    """How long this address must still wait before trying this username again (0: now)."""
    row = _row(username, address)
    if row is None:
        return 0
    ready_at = row.last_failure_at + dt.timedelta(seconds=delay_after(row.failures))
    return max(0, int((ready_at - utcnow()).total_seconds() + 0.999))


def record_failure(username: str, address: str | None) -> int:
    """Count a failed attempt (password or code); answers the failures in the window."""
    forget_expired()
    name, where = _key(username, address)
    row = _find(name, where) or _create(name, where)
    now = utcnow()
    if now - row.last_failure_at > _window():
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    db.session.flush()
    return row.failures


def _find(name: str, where: str) -> LoginThrottle | None:
    return db.session.scalar(
        select(LoginThrottle).where(LoginThrottle.username == name, LoginThrottle.address == where)
    )


def _create(name: str, where: str) -> LoginThrottle:
    """A new counter; when a concurrent attempt made it first, that one (a savepoint keeps
    the rest of the request's work)."""
    try:
        with db.session.begin_nested():
            row = LoginThrottle(username=name, address=where, failures=0, last_failure_at=utcnow())
            db.session.add(row)
        return row
    except IntegrityError:
        return _find(name, where)


def clear(username: str, address: str | None = None) -> None:
    """Forget the failures of a username (from one address, or from all: an Admin's reset)."""
    name, where = _key(username, address)
    statement = delete(LoginThrottle).where(LoginThrottle.username == name)
    if address is not None:
        statement = statement.where(LoginThrottle.address == where)
    db.session.execute(statement)


def forget_expired() -> None:
    """Usernames and addresses are personal data: kept no longer than the window."""
    db.session.execute(
        delete(LoginThrottle).where(LoginThrottle.last_failure_at < utcnow() - _window())
    )
