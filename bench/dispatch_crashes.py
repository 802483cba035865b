"""Fault benchmark of the dispatch: duplicates and losses per crash.

Run from the repository root: ``.venv/bin/python bench/dispatch_crashes.py``. Creates its own
PostgreSQL database, 300 email subscribers and one alert, then runs the dispatch with
``flask dispatch run`` worker processes against an aiosmtpd server on loopback that drops
the connection after every 37th end of data (keeping the message), killing the worker with
SIGKILL twice mid-run (``tests/dispatch_crashes.py`` is the scenario; the test
``tests/integration/test_dispatch_exactly_once.py`` asserts its figures are 0).

Prints ``dispatch_crash_duplicates_per_crash``, ``dispatch_crash_lost`` and the rest.
"""

from __future__ import annotations

from pathlib import Path

import support


def main() -> None:
    from tests.dispatch_crashes import crash_run

    with support.temporary_database("bench_crash") as url:
        app = support.migrated_app(url, seed=True, FAB_UPDATE_PERMS=False)
        with app.app_context():
            run = crash_run(app, Path(support.instance_dir()), recipients=300, crashes=2)
        support.report("dispatch_crash_recipients", run.recipients)
        support.report("dispatch_crash_worker_kills", run.crashes)
        support.report("dispatch_crash_connections_dropped_after_data", run.dropped)
        support.report("dispatch_crash_lost", run.lost)
        support.report("dispatch_crash_duplicates", run.duplicates)
        per_crash = run.duplicates / max(1, run.crashes + run.dropped)
        support.report("dispatch_crash_duplicates_per_crash", per_crash, digits=2)
        support.report("dispatch_crash_unconfirmed", run.unconfirmed)
        support.report("dispatch_crash_seconds", run.seconds, "s")


if __name__ == "__main__":
    main()
