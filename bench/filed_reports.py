"""Benchmark of a relay's pages with 100,000 reports (PostgreSQL): her home section's counts
(``questions.relay_home``), the "Filed reports" page, and the moderation queue with its
"no answer" mark.

Run from the repository root: ``.venv/bin/python bench/filed_reports.py``. Creates its own
database on 127.0.0.1:5432 (dropped at the end), migrates it, bulk-loads 100,000 reports in
every status, a fifth of them filed by the relay's association, signs in as the demo relay
and times whole requests through the application. Goal (issue 18): home data and pages under
150 ms.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
import uuid

import support

REPORTS = 100_000
RUNS = 30
SEED = 18
STATUSES = (
    ["received"] * 6
    + ["in_review", "needs_info", "approved"]
    + ["published"] * 4
    + ["archived"] * 6
    + ["rejected", "merged"]
    + ["recorded"] * 2
)
COLUMNS = [
    "reference", "status", "version_id", "channel", "language", "incident_date",
    "date_precision", "department", "violence_types", "severity",
    "aggressor_description", "vehicle", "consent_publish_alert", "consent_follow_up",
    "consent_share_with_partner", "consent_statistics", "consent_police_or_lawyer",
    "received_at", "redaction_status", "row_uid", "created_at", "updated_at",
    "status_changed_at", "filing_organisation_id",
]  # fmt: skip


def _rows(rng: random.Random, now: dt.datetime, organisations: list[int], mine: int):
    for number in range(1, REPORTS + 1):
        received = now - dt.timedelta(minutes=rng.randrange(730 * 24 * 60))
        stamp = received.isoformat(sep=" ")
        filing = mine if rng.random() < 0.2 else rng.choice([None, None, None, *organisations])
        yield (
            f"J-{received.year}-{number:06d}", rng.choice(STATUSES), 1, "partner", "fr",
            received.date().isoformat(), "day", "75", json.dumps(["theft"]), "risky",
            "{}", "{}", "t", "f", "f", "t", "f", stamp,
            "proposed", uuid.uuid4().hex, stamp, stamp, stamp, filing,
        )  # fmt: skip


def _organisations(app) -> tuple[int, list[int]]:
    from sqlalchemy import select

    from backoffice.demo import AIDES
    from backoffice.extensions import db
    from backoffice.models.organisation import Organisation

    with app.app_context():
        rows = dict(db.session.execute(select(Organisation.name, Organisation.id)).all())
    return rows[AIDES], [i for name, i in rows.items() if name != AIDES]


def _load(url: str, app) -> None:
    mine, others = _organisations(app)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    started = time.perf_counter()
    with support.connect(url) as connection:
        support.copy_rows(
            connection, "reports", COLUMNS, _rows(random.Random(SEED), now, others, mine)
        )
        # A moderator's question (its text left out: timing only) on every report waiting.
        connection.execute(
            "INSERT INTO report_questions (report_id, addressee, asked_at, row_uid) "
            "SELECT id, 'partner', received_at, md5(random()::text || id) FROM reports "
            "WHERE status = 'needs_info'"
        )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE reports")
        connection.execute("VACUUM ANALYZE report_questions")
    support.report("filed_load_100k_reports", time.perf_counter() - started, "s")


def _measure(app) -> None:
    from backoffice.services import moderation, questions
    from backoffice.transactions import unit_of_work

    with app.app_context():
        relay = app.appbuilder.sm.find_user(username="demo-relay")
        home = support.measure(lambda: questions.relay_home(relay), RUNS, warm_up=1)
        counts = questions.relay_home(relay)
        filed = questions.filed_reports(relay).total
        started = time.perf_counter()
        with unit_of_work():  # every question unanswered: the job sends them all back
            expired = questions.expire_unanswered()
        job_seconds = time.perf_counter() - started
    client = support.signed_in(app, "demo-relay")
    listing = support.time_get(client, "/partner/reports/", RUNS, warm_up=1)
    asked = support.time_get(client, "/partner/reports/?show=question", RUNS, warm_up=1)
    with app.app_context():
        ids = [r.id for r in moderation.queue(moderation.QueueFilters()).items]
        marks = support.measure(lambda: questions.unanswered_report_ids(ids), RUNS, warm_up=1)
    moderator = support.signed_in(app, "demo-moderator")
    queue = support.time_get(moderator, "/moderation/queue", RUNS, warm_up=1)
    support.report("filed_reports_of_the_relay", filed, "reports")
    support.report("filed_open_questions", counts.questions, "questions")
    support.report("filed_no_answer_job", expired, "reports")
    support.report("filed_no_answer_job_duration", job_seconds, "s")
    support.report_timings("relay_home_service", home)
    support.report_timings("filed_reports_page", listing)
    support.report_timings("filed_reports_questions_page", asked)
    support.report("moderation_queue_with_marks_median", statistics.median(queue), "ms")
    support.report("moderation_queue_marks_query_median", statistics.median(marks), "ms")


def main() -> None:
    with support.temporary_database("bench_filed") as url:
        app = support.migrated_app(url, seed=True, WTF_CSRF_ENABLED=False)
        _load(url, app)
        _measure(app)


if __name__ == "__main__":
    main()
