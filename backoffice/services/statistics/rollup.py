"""The daily rollup (``StatisticsDaily``) and where a computation reads its source rows.

* **Writing** happens in jobs only: ``refresh_rollup`` (every few minutes) recomputes the days
  of every report, alert, case, referral or subscriber changed since the last refresh (their
  ``updated_at``, less a margin for transactions still open), under a lock on the bookkeeping
  row; ``rebuild_rollup`` (nightly) recomputes it all, which also catches deleted rows and the
  old day of a row whose date was edited. Both flush; the job commits.
* **Reading** (``source_for``) writes nothing. Programme-wide and one-department figures read
  the rollup, except for the days changed since its last refresh: those are computed live
  into a temporary table (per connection, never seen by another) and read in their place, so
  figures are exact the moment a change is committed. Before the first rebuild, and for an
  organisation's figures, everything is computed live.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, select, text, union_all

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.statistics import StatisticsDaily, StatisticsRefresh
from backoffice.services.statistics import sources
from backoffice.services.statistics.viewers import Scope

SCOPE_TABLE = "statistics_scope"


@dataclass(frozen=True)
class Source:
    """Source rows to read (a table or a subquery of ``SOURCE_COLUMNS``) and whose rows."""

    rows: object
    department: str  # ALL_DEPARTMENTS, or one department's code


def rollup_table() -> Table:
    return StatisticsDaily.__table__


def refresh_margin() -> dt.timedelta:
    minutes = 15
    if has_app_context():
        minutes = int(current_app.config.get("STATS_REFRESH_MARGIN_MINUTES", minutes))
    return dt.timedelta(minutes=minutes)


# --- writing: the jobs ---------------------------------------------------------------------


def refresh_rollup(*, full: bool = False, now: dt.datetime | None = None) -> int:
    """Bring the rollup up to date; returns how many days were recomputed (-1: all).

    The ``statistics_refresh`` job. Flushes only: the job (or command) commits.
    """
    now = now or utcnow()
    state = _locked_state()
    table = rollup_table()
    if full or state.rebuilt_at is None or state.refreshed_at is None:
        db.session.execute(table.delete())
        sources.fill(table, sources.everything)
        state.rebuilt_at = state.refreshed_at = now
        state.days_refreshed = -1
        db.session.flush()
        return -1
    days = sources.changed_days(state.refreshed_at - refresh_margin())
    if days:
        db.session.execute(table.delete().where(table.c.day.in_(sorted(days))))
        sources.fill(table, sources.days_window(days), days=days)
    state.refreshed_at = now
    state.days_refreshed = len(days)
    db.session.flush()
    return len(days)


def rebuild_rollup() -> None:
    """The nightly ``statistics_rebuild`` job: recompute the whole rollup."""
    refresh_rollup(full=True)


def _locked_state() -> StatisticsRefresh:
    # Writing first takes SQLite's write lock at once (no lock upgrade, no deadlock);
    # PostgreSQL locks the row.
    bookkeeping = StatisticsRefresh.__table__
    db.session.execute(bookkeeping.update().values(id=bookkeeping.c.id))
    state = db.session.scalars(
        select(StatisticsRefresh).order_by(StatisticsRefresh.id).with_for_update()
    ).first()
    if state is None:
        state = StatisticsRefresh(id=1, days_refreshed=0)
        db.session.add(state)
        db.session.flush()
    return state


# --- reading ---------------------------------------------------------------------------------


def source_for(scope: Scope, *, live: bool = False) -> Source:
    """Where the figures of ``scope`` are read from (``live``: computed from the records)."""
    department = scope.department or sources.ALL_DEPARTMENTS
    if not live and scope.organisation_id is None:
        state = db.session.scalars(select(StatisticsRefresh).order_by(StatisticsRefresh.id)).first()
        if state is not None and state.rebuilt_at is not None and state.refreshed_at is not None:
            return Source(_rollup_with_fresh_days(scope, state.refreshed_at), department)
    table = _scope_table()
    period = scope.period
    sources.fill(
        table,
        sources.period_window(period),
        department=scope.department,
        organisation_id=scope.organisation_id,
        history=lambda column: column < period.ends_before,
    )
    return Source(table, department)


def _rollup_with_fresh_days(scope: Scope, refreshed_at: dt.datetime):
    """The rollup, with the days changed since its refresh computed now instead."""
    rollup = rollup_table()
    changed = sources.changed_days(refreshed_at - refresh_margin())
    fresh_days = sorted(d for d in changed if d <= scope.period.end)
    if not fresh_days:
        return rollup
    fresh = _scope_table()
    sources.fill(fresh, sources.days_window(fresh_days), department=scope.department)
    columns = sources.SOURCE_COLUMNS
    kept = select(*[rollup.c[n] for n in columns]).where(rollup.c.day.not_in(fresh_days))
    return union_all(kept, select(*[fresh.c[n] for n in columns])).subquery("statistics_source")


def _scope_table() -> Table:
    """An empty temporary table (per connection) for source rows computed live."""
    db.session.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {SCOPE_TABLE} (day DATE, department "
            "VARCHAR(3), dimension VARCHAR(24), value VARCHAR(40), count INTEGER)"
        )
    )
    table = Table(
        SCOPE_TABLE,
        MetaData(),
        Column("day", Date),
        Column("department", String(3)),
        Column("dimension", String(24)),
        Column("value", String(40)),
        Column("count", Integer),
    )
    db.session.execute(table.delete())
    return table
