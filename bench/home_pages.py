"""Benchmark of each role's home page at 100,000 reports and 50,000 cases (PostgreSQL).

Run from the repository root: ``.venv/bin/python bench/home_pages.py``. Creates its own
database on 127.0.0.1:5432 (dropped at the end), migrates it and fills it:

* 100,000 reports in every status over two years (``bench/moderation_queue.py``'s rows), a
  claim event for each report past "received", an answer (``info_added``) for one waiting
  report in twenty, and live claims of the demo moderator;
* 50,000 cases over the three associations with sealed contacts (``bench/cases.py``'s
  cases), one in forty with a running treatment deadline (some just passed), one in seven
  with an old resolved flag, one in twenty routed from a report, and 100,000 follow-up
  actions (open and done, one in ten overdue);
* 600 outreach rounds (one in six open) and a few funder report builds;

rebuilds the statistics rollup as the nightly job does, then times whole requests of ``GET /``
through the application for each role (routing, sign-in session, permissions, queries,
template) and counts their SQL statements. Prints ``home_<role>_median``/``_p95`` lines.
``--keep`` keeps the database (and prints its URL); ``--reuse URL`` measures it again.
Target (issue 18): every home page under 150 ms.
"""

# ruff: noqa: S608 - the bench's SQL is assembled from this file's own constants only
from __future__ import annotations

import argparse
import datetime as dt
import random
import time

import cases as case_bench
import moderation_queue
import support
from sqlalchemy import text as sql_text

RUNS = 30
WARM_UP = 3
ROLES = {
    "moderator": ("demo-moderator", "home-moderation"),
    "social_worker": ("demo-social-a", "home-cases"),
    "coordinator": ("demo-coordinator", "home-coordination"),
    "outreach": ("demo-outreach", "home-outreach"),
}

FILL = [
    # A claim event for every report a moderator took up, an answer for 1 waiting in 20.
    """INSERT INTO report_events (report_id, occurred_at, actor_name, action, from_status,
           to_status, details)
       SELECT id, received_at + interval '2 hours', 'bench', 'claim', 'received', 'in_review',
              '{}' FROM reports WHERE status <> 'received'""",
    """INSERT INTO report_events (report_id, occurred_at, actor_name, action, from_status,
           to_status, details)
       SELECT id, received_at + interval '1 day', 'system', 'info_added', 'needs_info',
              'received', '{}' FROM reports WHERE status = 'received' AND id % 20 = 0""",
    """UPDATE reports SET claimed_by_id = (SELECT id FROM ab_user WHERE username =
           'demo-moderator'), claim_expires_at = now() AT TIME ZONE 'UTC' + interval '30 minutes'
       WHERE status = 'in_review' AND id % 100 = 0""",
    # Running treatment deadlines (from 10 h passed to 50 h ahead) and old resolved flags.
    """INSERT INTO case_flags (case_id, organisation_id, kind, deadline, created_at)
       SELECT id, organisation_id, CASE WHEN id % 80 = 0 THEN 'emergency_contraception'
              ELSE 'pep' END, now() AT TIME ZONE 'UTC' + ((id / 40) % 60 - 10) * interval
              '1 hour', now() AT TIME ZONE 'UTC'
       FROM cases WHERE id % 40 = 0""",
    """INSERT INTO case_flags (case_id, organisation_id, kind, deadline, created_at,
           resolved_at, resolution)
       SELECT id, organisation_id, 'pep', opened_at + interval '48 hours', opened_at,
              opened_at + interval '5 hours', 'done'
       FROM cases WHERE id % 7 = 0""",
    "UPDATE cases SET source = 'routed' WHERE id % 20 = 0",
    "UPDATE cases SET first_contact_at = opened_at + interval '1 day' WHERE id % 3 = 0",
    # Two actions a case: one done, one open (one in ten of those overdue).
    """INSERT INTO case_actions (case_id, organisation_id, kind, due_on, assignee_id,
           created_at, updated_at, done_at, row_uid, data_key_id)
       SELECT c.id, c.organisation_id, 'call_back', (c.opened_at + interval '3 days')::date,
              NULL, c.opened_at, c.opened_at, c.opened_at + interval '2 days',
              md5('done' || c.id), c.data_key_id
       FROM cases c""",
    """INSERT INTO case_actions (case_id, organisation_id, kind, due_on, assignee_id,
           created_at, updated_at, done_at, row_uid, data_key_id)
       SELECT c.id, c.organisation_id, 'check_in',
              CASE WHEN c.id % 10 = 0 THEN current_date - (c.id % 30 + 1)
                   ELSE current_date + (c.id % 30) END,
              NULL, c.opened_at, c.opened_at, NULL, md5('open' || c.id), c.data_key_id
       FROM cases c""",
    # Outreach rounds of every association, one in six still open.
    """INSERT INTO outreach_sessions (organisation_id, session_date, department, status,
           created_at, updated_at, row_uid)
       SELECT o.id, current_date - (n % 400), '75',
              CASE WHEN n % 6 = 0 THEN 'open' ELSE 'closed' END, now(), now(),
              md5('round' || o.id || '-' || n)
       FROM organisations o CROSS JOIN generate_series(1, 200) n""",
    """INSERT INTO funder_reports (kind, period_start, period_end, language, parameters,
           trigger, status, progress, requested_at)
       SELECT 'funder', make_date(2026, n, 1), make_date(2026, n, 28), 'fr', '{}',
              'schedule', 'done', 100, make_date(2026, n, 28)
       FROM generate_series(1, 11) n""",
]


def load_reports(url: str) -> None:
    """``bench/moderation_queue.py``'s 100,000 reports (no narrative: it is sealed)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = moderation_queue._rows(random.Random(moderation_queue.SEED), now)
    with support.connect(url) as connection:
        support.copy_rows(connection, "reports", moderation_queue.COLUMNS, rows)
        connection.commit()


def fill(app, url: str) -> None:
    started = time.perf_counter()
    load_reports(url)
    case_bench.fill_cases(app)
    with support.connect(url) as connection:
        for statement in FILL:
            connection.execute(statement)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    _rebuild_rollup(app)
    support.report("home_bench_setup", time.perf_counter() - started, "s")


def _rebuild_rollup(app) -> None:
    from backoffice.services import statistics
    from backoffice.transactions import unit_of_work

    with app.app_context(), unit_of_work():
        statistics.rebuild_rollup()


def counts(app) -> None:
    from backoffice.extensions import db

    with app.app_context():
        for table in ("reports", "report_events", "cases", "case_flags", "case_actions"):
            found = db.session.execute(sql_text(f"SELECT count(*) FROM {table}")).scalar()
            support.report(f"home_rows_{table}", found, "rows")


def measure(app) -> None:
    for role, (username, marker) in ROLES.items():
        client = support.signed_in(app, username)
        timings = support.time_get(client, "/", RUNS, warm_up=WARM_UP, contains=marker)
        support.report_timings(f"home_{role}", timings)
        queries = case_bench.count_queries(app, client, "/")
        support.report(f"home_{role}_queries", queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the database, print its URL")
    parser.add_argument("--reuse", metavar="URL", help="measure a database --keep left")
    arguments = parser.parse_args()
    if arguments.reuse:
        app = support.migrated_app(arguments.reuse, WTF_CSRF_ENABLED=False)
        measure(app)
        return
    with support.temporary_database("bench_home", keep=arguments.keep) as url:
        app = support.migrated_app(url, seed=True, WTF_CSRF_ENABLED=False)
        fill(app, url)
        counts(app)
        measure(app)
        if arguments.keep:
            support.report("home_bench_database", url)


if __name__ == "__main__":
    main()
