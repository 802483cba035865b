"""Reference codes quoted by workers and partners: ``J-2026-000123``, ``A-2026-000045``.

A reference is a prefix, the year and a per-year sequence number: it says nothing about the
content (no department, no violence type), only roughly when it was received.

Numbers come from one ``reference_counters`` row per (prefix, year), bumped by a single
``INSERT … ON CONFLICT (prefix, year) DO UPDATE SET last_value = last_value + 1 RETURNING``
statement. The update takes the row lock (as ``SELECT … FOR UPDATE`` then an update would,
in one round trip), so two callers never get the same number; and the first number of a
year cannot race either: of two concurrent inserts of the new row, PostgreSQL makes the
second wait and take the update path, SQLite's single writer serialises them.

Where the bump runs:

* PostgreSQL: in its own one-statement transaction, on a separate autocommit connection
  whose ``synchronous_commit`` is off (``_counter_engine``). Inside the report's
  transaction, the row lock would be held until the report's commit, so every report would
  wait for the previous one's disk flush (one ~5 ms fsync each: under 200 reports/s
  whatever else is done). Committing the counter apart holds the lock for well under a
  millisecond and lets report commits share their flushes. Skipping the counter's own flush
  loses nothing: its commit record precedes in the WAL the commit of the report that uses
  the number, so once that report is durable the counter is too; a crash can only forget
  numbers that no durable report holds. The unique constraint on ``reports.reference``
  stays as the last guard. A report that fails after taking its number leaves a gap:
  references are unique and increasing, not contiguous.
* SQLite (development, tests): in the caller's transaction; the database has one writer at
  a time anyway, and a rolled-back report gives its number back.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import current_app
from sqlalchemy import Engine, create_engine, text

from backoffice.extensions import db
from backoffice.models.base import utcnow

PREFIXES = frozenset({"J", "A", "C", "D"})  # J: report (signalement), A: alert, C: case, D: dossier
DIGITS = 6


def next_reference(prefix: str, when: dt.datetime | None = None) -> str:
    """The next free reference for ``prefix`` in the year of ``when`` (default: now, UTC)."""
    if prefix not in PREFIXES:
        raise ValueError(f"Unknown reference prefix {prefix!r}.")
    year = (when or utcnow()).year
    if db.session.get_bind().dialect.name == "postgresql":
        number = _bump_apart(prefix, year)
    else:
        number = int(db.session.execute(_BUMP, {"prefix": prefix, "year": year}).scalar_one())
    return format_reference(prefix, year, number)


def format_reference(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year:04d}-{number:0{DIGITS}d}"


_REFERENCE = re.compile(rf"[A-Z]-\d{{4}}-\d{{{DIGITS},}}")


def is_reference(value: str, prefix: str) -> bool:
    """Whether ``value`` has the shape of a reference with ``prefix`` (what a form sent
    may be anything; only a well-formed reference is worth a query)."""
    return value.startswith(prefix + "-") and _REFERENCE.fullmatch(value) is not None


# One statement, the same in PostgreSQL and SQLite (≥ 3.35), parsed once.
_BUMP = text(
    "INSERT INTO reference_counters (prefix, year, last_value) VALUES (:prefix, :year, 1) "
    "ON CONFLICT (prefix, year) DO UPDATE SET last_value = reference_counters.last_value + 1 "
    "RETURNING last_value"
)


def _bump_apart(prefix: str, year: int) -> int:
    with _counter_engine().connect() as connection:
        return int(connection.execute(_BUMP, {"prefix": prefix, "year": year}).scalar_one())


def _counter_engine() -> Engine:
    """An autocommit engine whose sessions skip the commit flush (counters only, see above)."""
    engine = current_app.extensions.get("reference_counter_engine")
    if engine is None:
        engine = create_engine(
            db.engine.url,
            isolation_level="AUTOCOMMIT",
            connect_args={"options": "-c synchronous_commit=off"},
            pool_size=2,
        )
        current_app.extensions["reference_counter_engine"] = engine
    return engine
