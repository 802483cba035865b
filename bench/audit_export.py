"""Benchmark of the audit trail's export (PostgreSQL): ``/audit/journal/export.csv`` as the
data-protection officer, over a trail of 300,000 events, system rows included.

Run from the repository root: ``.venv/bin/python bench/audit_export.py``. Creates its own
database on 127.0.0.1:5432 (dropped at the end), migrates it, bulk-loads the events (page views
of a case: three reads at one instant; and other actions), signs in as demo-dpo and reads the
streamed answer piece by piece. Prints the time to the first piece, the whole time, the rows
and the resident memory the process gained while streaming: the export is read in keyset batches,
so that memory stays flat whatever the trail's length.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time

import support

EVENTS = 300_000
SEED = 15
COLUMNS = ["occurred_at", "actor_name", "action", "object_type", "object_id", "outcome", "details"]
ACTORS = ["demo-social-a", "demo-social-b", "demo-moderator", "demo-coordinator", "system"]
ACTIONS = ["report_claimed", "alert_published", "directory_exported", "dispatch_batch"]


def _rows(rng: random.Random, now: dt.datetime):
    made = 0
    while made < EVENTS:
        at = (now - dt.timedelta(seconds=rng.randrange(365 * 24 * 3600))).isoformat(sep=" ")
        actor = rng.choice(ACTORS)
        if actor != "system" and rng.random() < 0.6:  # a case page view: three reads at once
            case = f"C-2026-{rng.randrange(1, 50_000):06d}"
            for kind in ("Case", "CaseNote", "CaseNote"):
                details = json.dumps({"case": case})
                yield at, actor, "decrypt", kind, str(rng.randrange(10**6)), "success", details
            made += 3
        else:
            action = "dispatch_batch" if actor == "system" else rng.choice(ACTIONS[:3])
            yield at, actor, action, "Report", f"J-2026-{made:06d}", "success", "{}"
            made += 1


def _load(url: str) -> None:
    started = time.perf_counter()
    with support.connect(url) as connection:
        rows = _rows(random.Random(SEED), dt.datetime.now(dt.UTC).replace(tzinfo=None))
        support.copy_rows(connection, "audit_events", COLUMNS, rows)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE audit_events")
    support.report("audit_load_events", time.perf_counter() - started, "s")


def _resident_kb() -> int:
    """The process's resident memory now (the peak of getrusage would be the migration's)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


def _measure(app) -> None:
    client = support.signed_in(app, "demo-dpo")
    before = highest = _resident_kb()
    started = time.perf_counter()
    response = client.get("/audit/journal/export.csv?system=1", buffered=False)
    assert response.status_code == 200, response.status_code
    first = None
    lines = 0
    for piece in response.response:
        if first is None:
            first = time.perf_counter() - started
        lines += piece.count(b"\r\n") if isinstance(piece, bytes) else piece.count("\r\n")
        highest = max(highest, _resident_kb())
    response.close()
    whole = time.perf_counter() - started
    support.report("audit_export_rows", lines - 1, "rows")
    support.report("audit_export_first_piece", first * 1000, "ms")
    support.report("audit_export_whole", whole, "s")
    support.report("audit_export_resident_memory_gained", (highest - before) / 1024, "MB")


def main() -> None:
    with support.temporary_database("bench_audit_export") as url:
        app = support.migrated_app(url, seed=True, WTF_CSRF_ENABLED=False)
        _load(url)
        _measure(app)


if __name__ == "__main__":
    main()
