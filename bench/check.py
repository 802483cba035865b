"""Benchmark of the identifier check over 1,000,000 stored alert identifiers (PostgreSQL).

Run from the repository root: ``.venv/bin/python bench/check.py``. Creates its own database
on 127.0.0.1:5432 (dropped at the end), migrates it, bulk-loads 100,000 published alerts with
10 phone identifiers each (blind indexes precomputed with the run's key, values sealed as
they would be), then times in the same run:

* ``check_service``: ``alerts.check_identifier`` plus the commit a request makes (normalise
  the typed value, blind index, indexed lookup restricted to live published alerts, count the
  check), half hits, half misses;
* ``check_bare_sql``: the bare indexed lookup of the same blind index through the same
  session (``SELECT alert_id FROM alert_identifiers WHERE kind = … AND blind_index = …``).

Prints ``name: value unit`` lines; the goal is a p95 under 10 ms and a p95 ratio under 2.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid

import support

ALERTS = 100_000
PER_ALERT = 10
RUNS = 2_000
SEED = 4
ALERT_COLUMNS = [
    "id", "reference", "status", "version_id", "severity", "violence_types", "departments",
    "date_precision", "aggressor_description", "vehicle", "reports_count", "published_at",
    "expires_at", "created_at", "updated_at",
]  # fmt: skip


def _phone(number: int) -> str:
    """A distinct valid French mobile in E.164 for each number below 10**8."""
    return f"+336{number:08d}"


def _load(app, url: str) -> None:
    from backoffice.services.confidential import keyring

    with app.app_context():
        ring = keyring()
        index = ring.blind_index
        # Sealing a million values would only time AES; one real token is reused (the check
        # never decrypts, it matches blind indexes).
        token = ring.seal("+33600000000", b"bench")
    started = time.perf_counter()
    with support.connect(url) as connection:
        support.copy_rows(
            connection,
            "alerts",
            ALERT_COLUMNS,
            (
                (i, f"A-2026-{i:06d}", "published", 1, "risky", '["theft"]', '["75"]', "day",
                 "{}", "{}", 1, "2026-01-01 10:00:00", "2099-01-01 00:00:00",
                 "2026-01-01 10:00:00", "2026-01-01 10:00:00")
                for i in range(1, ALERTS + 1)
            ),
        )  # fmt: skip
        support.copy_rows(
            connection,
            "alert_identifiers",
            ["alert_id", "kind", "blind_index", "value_sealed", "row_uid"],
            (
                (1 + n // PER_ALERT, "phone", index("phone", _phone(n)), token, uuid.uuid4().hex)
                for n in range(ALERTS * PER_ALERT)
            ),
        )
        connection.execute("SELECT setval('alerts_id_seq', %s)", (ALERTS,))
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE alerts")
        connection.execute("VACUUM ANALYZE alert_identifiers")
    support.report("check_load_1m_identifiers", time.perf_counter() - started, "s")


def _measure(app) -> None:
    from sqlalchemy import text

    from backoffice.extensions import db
    from backoffice.services import alerts
    from backoffice.services.confidential import keyring

    rng = random.Random(SEED)  # reproducible benchmark input
    total = ALERTS * PER_ALERT
    # Typed as a worker would ("06 12 34 56 78"); half of them are stored, half are not.
    numbers = [rng.randrange(total) if i % 2 else total + rng.randrange(total) for i in range(RUNS)]
    typed = [
        f"06 {n // 10**6 % 100:02d} {n // 10**4 % 100:02d} {n // 100 % 100:02d} {n % 100:02d}"
        for n in numbers
    ]
    bare = text(
        "SELECT alert_id FROM alert_identifiers WHERE kind = :kind AND blind_index = :index"
    )
    with app.app_context():
        ring = keyring()
        indexes = [ring.blind_index("phone", _phone(n)) for n in numbers]
        for value in typed[:50]:  # warm-up: connection pool, statement cache
            alerts.check_identifier(value, "phone")
            db.session.commit()
        # Interleaved, so that both see the same conditions: not two support.measure loops.
        service, sql, hits = [], [], 0
        for value, index in zip(typed, indexes, strict=True):
            start = time.perf_counter()
            result = alerts.check_identifier(value, "phone", source="api", api_client_id=0)
            db.session.commit()
            service.append((time.perf_counter() - start) * 1000)
            hits += bool(result.matches)
            start = time.perf_counter()
            db.session.execute(bare, {"kind": "phone", "index": index}).all()
            sql.append((time.perf_counter() - start) * 1000)
            db.session.rollback()
    support.report("check_stored_identifiers", total, "identifiers")
    support.report("check_hits", hits, f"of {RUNS}")
    support.report_timings("check_service", service, digits=2)
    support.report_timings("check_bare_sql", sql, digits=2)
    ratio_median = statistics.median(service) / statistics.median(sql)
    support.report("check_ratio_median", ratio_median, digits=2)
    ratio_p95 = support.percentile(service, 95) / support.percentile(sql, 95)
    support.report("check_ratio_p95", ratio_p95, digits=2)


def main() -> None:
    with support.temporary_database("bench_check") as url:
        app = support.migrated_app(url, FAB_UPDATE_PERMS=False)
        _load(app, url)
        _measure(app)


if __name__ == "__main__":
    main()
