"""Who commits: the request, the job or the command, once. Services only flush.

* **Requests.** ``install(app)`` commits once the view has produced an answer below 400 and
  rolls back otherwise, so a refused request leaves nothing behind. If that commit fails,
  the answer is replaced by an error (for the API: 503 with Retry-After, in its JSON error
  shape; for staff, a dropped connection is the standalone 503 page with Retry-After, any
  other failure the generic error page): data whose reading could not be audited is not
  served (every decryption writes its audit event into this same transaction).
* **Refusals that must leave a trace** (a failed sign-in counted, a wrong code counted, an
  audited refusal) call ``keep_on_failure()``: the request then commits even with a 4xx.
* **A change the rules refused** in one of our views (a service raised: the view flashes
  the reason, then redirects or shows the form again) calls ``undo()``: what the request
  wrote so far is rolled back at once, and what it does next (the form shown again, the
  audit events of what that page reads) commits as usual.
* **A failure inside FAB's own flow** (a hook of a ModelView raised; FAB flashes the error
  and redirects, and would otherwise commit what the form already wrote on the row) calls
  ``doom()``: the request then rolls back whatever its status.
* **GET and HEAD change nothing.** A flush during such a request may insert audit events and
  touch the bookkeeping columns of ``_READ_ONLY_ALLOWED``; anything else raises
  ``ReadOnlyRequest`` (a 500 in tests, so a page that writes on GET fails the suite).
* **Jobs and commands** run inside ``unit_of_work()``: one commit at the end, a rollback on
  error. A long job that must keep its progress between batches (dispatch, re-sealing,
  retention) calls ``checkpoint()``, which refuses to run inside a request.

Streamed answers (large exports) run after the commit: they must audit what they will
decrypt before they start streaming. ``streamed_after_commit`` reads them in an application
context and session of their own, in the request's language, so the stream keeps nothing of
the request alive.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import force_locale, get_locale
from sqlalchemy import event
from sqlalchemy.orm import Session

from backoffice.extensions import db

log = logging.getLogger(__name__)

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Tables a read-only request may still write, and which columns (None: inserts only).
_READ_ONLY_ALLOWED: dict[str, frozenset[str] | None] = {
    "audit_events": None,
    "api_clients": frozenset({"last_used_at"}),
    "staff_sessions": frozenset({"last_seen_at"}),
    # An SMS provider's delivery receipt may come as a GET (OVHcloud's callback URL).
    "deliveries": frozenset({"receipt_status", "receipt_at"}),
    # A wrong follow-up code counts even on a GET (brute force of codes, services/follow_up).
    "report_follow_ups": frozenset({"failures", "locked_until"}),
}


class ReadOnlyRequest(RuntimeError):
    """A GET or HEAD request tried to change something other than the audit trail."""


class CommitRefused(RuntimeError):
    """``checkpoint()`` was called inside a request, whose commit belongs to the request."""


def keep_on_failure() -> None:
    """Commit this request's work even though it answers with an error (a counted refusal)."""
    if has_request_context():
        g.transaction_keep_on_failure = True


def undo() -> None:
    """Roll back what this request wrote so far, because the rules refused the change; the
    rest of the request commits, even with the 4xx that shows the refusal: a form shown again
    may decrypt sealed data, and its audit events must be kept (a refused change never
    half-happens, a read is never unaudited)."""
    db.session.rollback()
    keep_on_failure()


def doom() -> None:
    """Roll this request's work back whatever it answers (an error shown with a redirect)."""
    if has_request_context():
        g.transaction_doomed = True


def install(app: Flask) -> None:
    """Commit or roll back at the end of every request (call after the other hooks)."""

    @app.after_request
    def _end_of_request(response):
        if _should_commit(response.status_code):
            try:
                db.session.commit()
            except Exception as error:  # the answer must not claim what was not stored
                rollback_quietly()
                log.error("Request commit failed (%s)", type(error).__name__)
                return _commit_failed_response(error)
        else:
            rollback_quietly()
        return response


def _should_commit(status: int) -> bool:
    if g.get("transaction_doomed"):
        return False
    return status < 400 or bool(g.get("transaction_keep_on_failure"))


def rollback_quietly() -> None:
    try:
        db.session.rollback()
    except Exception as error:  # a dead connection: nothing more can be undone here
        log.warning("Rollback failed (%s)", type(error).__name__)


def _commit_failed_response(error: Exception):
    from backoffice.views.errors import commit_failed  # views import this module

    return commit_failed(error)


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    """A job's or a command's transaction: commit at the end, roll back on error."""
    try:
        yield
        db.session.commit()
    except BaseException:
        rollback_quietly()
        raise


def checkpoint() -> None:
    """Commit a long job's progress so far. Never inside a request."""
    if has_request_context():
        raise CommitRefused("A request commits once, at its end; services only flush.")
    db.session.commit()


@event.listens_for(Session, "before_flush")
def _refuse_writes_on_read_only_requests(session, _flush_context, _instances) -> None:
    if not has_request_context() or request.method not in READ_ONLY_METHODS:
        return
    for obj in list(session.new) + list(session.deleted):
        table = getattr(obj, "__tablename__", type(obj).__name__)
        inserts_only = table in _READ_ONLY_ALLOWED and _READ_ONLY_ALLOWED[table] is None
        if obj in session.deleted or not inserts_only:
            raise ReadOnlyRequest(f"A {request.method} request may not write to {table}.")
    for obj in session.dirty:
        if not session.is_modified(obj):
            continue
        table = getattr(obj, "__tablename__", type(obj).__name__)
        allowed = _READ_ONLY_ALLOWED.get(table)
        changed = _changed_columns(obj)
        if allowed is None or not changed <= allowed:
            raise ReadOnlyRequest(
                f"A {request.method} request may not change {table} ({', '.join(sorted(changed))})."
            )


def _changed_columns(obj) -> set[str]:
    from sqlalchemy import inspect

    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def streamed_after_commit(produce: Callable[[], Iterator[str]]) -> Iterator[str]:
    """The pieces ``produce()`` yields, produced only once the answer is being sent: after this
    request has committed (its audit event stored first), in the request's language. Each
    piece is made in an application context (and session) of its own, left before the piece
    is sent: a slow reader or an abandoned download holds no context, session or cursor, so
    ``produce`` must read in short queries (keyset batches), not through one cursor."""
    app = current_app._get_current_object()
    locale = str(get_locale() or app.config.get("BABEL_DEFAULT_LOCALE", "fr"))

    def pieces() -> Iterator[str]:
        iterator: Iterator[str] | None = None
        while True:
            with app.app_context(), force_locale(locale):
                iterator = iterator or produce()
                piece = next(iterator, None)
            if piece is None:
                return
            yield piece

    return pieces()
