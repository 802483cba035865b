"""Benchmark of the moderation queue page with 100,000 reports (PostgreSQL).

Run from the repository root: ``.venv/bin/python bench/moderation_queue.py``. Creates its own
database on 127.0.0.1:5432 (dropped at the end), migrates it, bulk-loads 100,000 reports in
every status (spread over two years, departments, violence types, languages and channels),
signs in as the demo moderator and times whole requests through the application (routing,
permission check, queries, template): the first page of the queue, and a filtered page
(department, violence type and waiting time). Goal: under 200 ms each.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import statistics
import time
import uuid

import support

REPORTS = 100_000
RUNS = 30
SEED = 7
STATUSES = (
    ["received"] * 6
    + ["in_review", "needs_info", "approved"]
    + ["published"] * 4
    + ["archived"] * 6
    + ["rejected", "merged"]
    + ["recorded"] * 2
)
DEPARTMENTS = ["75"] * 10 + [
    "93",
    "13",
    "69",
    "31",
    "33",
    "59",
    "67",
    "44",
    "34",
    "06",
    "2A",
    "974",
]
VIOLENCE = ["theft", "rape", "condom_removal", "physical_assault", "non_payment", "harassment"]
CHANNELS = ["web", "app", "partner", "phone", "sms"]
LANGUAGES = ["fr"] * 6 + ["en", "es", "pt", "ro", "bg", "zh"]
COLUMNS = [
    "reference", "status", "version_id", "channel", "language", "incident_date",
    "date_precision", "department", "violence_types", "severity",
    "aggressor_description", "vehicle", "consent_publish_alert", "consent_follow_up",
    "consent_share_with_partner", "consent_statistics", "consent_police_or_lawyer",
    "received_at", "redaction_status", "row_uid", "created_at", "updated_at",
    "status_changed_at",
]  # fmt: skip


def _rows(rng: random.Random, now: dt.datetime):
    for number in range(1, REPORTS + 1):
        received = now - dt.timedelta(minutes=rng.randrange(730 * 24 * 60))
        violence = rng.sample(VIOLENCE, rng.choice([1, 1, 2, 3]))
        severity = (
            "dangerous" if {"rape", "physical_assault", "harassment"} & set(violence) else "risky"
        )
        stamp = received.isoformat(sep=" ")
        yield (
            f"J-{received.year}-{number:06d}", rng.choice(STATUSES), 1, rng.choice(CHANNELS),
            rng.choice(LANGUAGES), received.date().isoformat(), "day", rng.choice(DEPARTMENTS),
            json.dumps(violence), severity, "{}", "{}",
            "t", "f", "f", "t", "f", stamp, "proposed", uuid.uuid4().hex, stamp, stamp, stamp,
        )  # fmt: skip


def _load(url: str) -> None:
    rows = list(_rows(random.Random(SEED), dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    started = time.perf_counter()
    with support.connect(url) as connection:
        support.copy_rows(connection, "reports", COLUMNS, rows)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE reports")
    support.report("queue_load_100k_reports", time.perf_counter() - started, "s")


def _time(client, url: str) -> list[float]:
    # One warm-up request: template compilation, statement cache.
    return support.time_get(client, url, RUNS, warm_up=1)


def _service(app, filters) -> list[float]:
    """The queue service alone (queries, no page): what the page costs beyond FAB's layout."""
    from backoffice.services import moderation

    with app.app_context():
        return support.measure(lambda: moderation.queue(filters), RUNS, warm_up=1)


def _measure(app) -> None:
    from backoffice.services.moderation import QueueFilters

    first_service = _service(app, QueueFilters())
    filtered_service = _service(app, QueueFilters(department="75", violence_type="theft", age="3d"))
    client = support.signed_in(app, "demo-moderator")
    first = _time(client, "/moderation/queue")
    filtered_url = "/moderation/queue?department=75&violence_type=theft&age=3d"
    filtered = _time(client, filtered_url)
    everything = _time(client, "/moderation/queue?status=all&page=200")
    page = client.get(filtered_url).get_data(as_text=True)
    shown = len(re.findall(r'href="/moderation/reports/J-', page))
    support.report("queue_reports", REPORTS, "reports")
    support.report_timings("queue_first_page", first)
    support.report_timings("queue_filtered_page", filtered)
    support.report("queue_filtered_page_rows", shown, "rows")
    support.report("queue_all_statuses_page_200_median", statistics.median(everything), "ms")
    for name, timings in [("first", first_service), ("filtered", filtered_service)]:
        support.report(f"queue_service_{name}_page_median", statistics.median(timings), "ms")


def main() -> None:
    with support.temporary_database("bench_queue") as url:
        app = support.migrated_app(url, seed=True, WTF_CSRF_ENABLED=False)
        _load(url)
        _measure(app)


if __name__ == "__main__":
    main()
