"""Benchmark: a dangerous report through the API → the on-duty moderators' notice in the
development outbox (issue 18, "Speed": within 5 seconds, with the scheduler running).

Run from the repository root: ``.venv/bin/python bench/notify_latency.py``. Creates its own
PostgreSQL database on 127.0.0.1:5432 (dropped at the end), serves the application with its
scheduler running in-process and ``MAIL_BACKEND=outbox`` — as ``make run`` does — then posts
dangerous reports to ``POST /api/v1/reports`` and times each until the moderator's notice is
a file in the outbox folder. Prints ``notify_latency_median`` and ``notify_latency_max``
(seconds); the goal is under 5 s.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import support

ROUNDS = 5
LIMIT_SECONDS = 5.0
TIMEOUT_SECONDS = 30.0


def _body() -> dict:
    return {
        "language": "fr",
        "channel": "web",
        "incident": {
            "date": dt.date.today().isoformat(),
            "department": "75",
            "violence_types": ["rape"],
        },
        "narrative": f"Bench {uuid.uuid4().hex[:8]}: il m'a violée.",
        "consent": {
            "publish_alert": False,
            "follow_up": False,
            "share_with_partner": False,
            "statistics": True,
        },
    }


def _arrived(folder: Path, reference: str) -> bool:
    for path in folder.glob("*-email-*.txt"):
        if reference in path.read_text(encoding="utf-8"):
            return True
    return False


def main() -> None:
    outbox = Path(tempfile.mkdtemp(prefix="notify-outbox-"))
    channels = {
        "MAIL_BACKEND": "outbox",
        "SMS_BACKEND": "outbox",
        "MESSAGE_OUTBOX_DIR": str(outbox),
    }
    with support.temporary_database("bench_notify") as url:
        app = support.migrated_app(url, seed=True, **channels)
        keys = app.config["BACKOFFICE_KEYS"]
        with app.app_context():
            from backoffice.extensions import db
            from backoffice.services import api_keys

            _client, key = api_keys.create_client("bench-notify")
            db.session.commit()
        serving = support.bench_app(url, keys, SCHEDULER_ENABLED=True, **channels)
        client = serving.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        timings = []
        try:
            for _ in range(ROUNDS):
                started = time.monotonic()
                answer = client.post("/api/v1/reports", json=_body(), headers=headers)
                assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
                reference = answer.get_json()["reference"]
                while not _arrived(outbox, reference):
                    if time.monotonic() - started > TIMEOUT_SECONDS:
                        raise SystemExit(f"no notice for {reference} after {TIMEOUT_SECONDS} s")
                    time.sleep(0.02)
                timings.append(time.monotonic() - started)
                time.sleep(1.0)  # the next report arrives between two scheduler ticks
        finally:
            scheduler = serving.extensions.get("scheduler")
            if scheduler is not None:
                scheduler.shutdown(wait=True)
    median, worst = statistics.median(timings), max(timings)
    print(f"notify_latency_median: {median:.2f} s")
    print(f"notify_latency_max: {worst:.2f} s (goal < {LIMIT_SECONDS:.0f} s)")
    if worst >= LIMIT_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
