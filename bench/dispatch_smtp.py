"""Benchmark of email delivery through the SMTP channel to a server on loopback.

Run from the repository root: ``.venv/bin/python bench/dispatch_smtp.py``. Starts aiosmtpd
(its ``Sink`` handler, in its own process, as a real server would be) on a free loopback
port, creates its own PostgreSQL database on 127.0.0.1:5432 (dropped at the end) with
3,000 email subscribers, publishes one alert to them and times:

* ``dispatch_smtp_rate``: the whole dispatch — claim, render in each language, decrypt the
  address, send over one SMTP connection per batch, record — until every delivery is sent;
* ``dispatch_smtp_channel_rate``: the channel alone (prepared messages, one connection).

Prints ``name: value unit`` lines; the goal is at least 300 messages per second.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import support

MESSAGES = 3_000
SINK = "aiosmtpd.handlers.Sink"
LANGUAGES = ["fr", "en", "es", "pt", "ro", "bg", "zh", "ru", "uk", "ar"]


@contextlib.contextmanager
def _smtp_server(port: int) -> Iterator[subprocess.Popen]:
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("aiosmtpd did not start")
        yield server
    finally:
        server.terminate()
        server.wait(10)


def _setup(app) -> int:
    from backoffice.demo import AIDES, seed_base
    from backoffice.extensions import db
    from backoffice.models.alert import Alert
    from backoffice.models.base import utcnow
    from backoffice.services import outbox, subscribers

    with app.app_context():
        organisation_id = seed_base().organisations[AIDES].id
        for number in range(MESSAGES):
            subscribers.register(
                {
                    "pseudonym": f"W{number}",
                    "email": f"w{number}@example.org",
                    "language": LANGUAGES[number % len(LANGUAGES)],
                    "departments": "75",
                },
                organisation_id,
                validate_now=True,
            )
        alert = Alert(
            reference="A-BENCH-SMTP",
            status="published",
            severity="dangerous",
            violence_types=["theft", "physical_assault"],
            departments=["75"],
            aggressor_description={"gender": "man", "age_range": "36-45"},
            vehicle={"make": "Renault", "colour": "grey"},
            summary="Se présente comme un client régulier, devient violent.",
            reports_count=2,
            published_at=utcnow(),
        )
        db.session.add(alert)
        db.session.flush()
        written = outbox.enqueue_alert(alert)
        db.session.commit()
        return written


def _whole_dispatch(app) -> tuple[int, float]:
    from sqlalchemy import func, select

    from backoffice.extensions import db
    from backoffice.models.dispatch import Delivery
    from backoffice.services import dispatch

    with app.app_context():
        start = time.perf_counter()
        stats = dispatch.dispatch_due(max_seconds=600)
        elapsed = time.perf_counter() - start
        sent = db.session.scalar(
            select(func.count()).where(Delivery.status == "sent", Delivery.channel == "email")
        )
        assert sent >= MESSAGES, f"only {sent} sent: {stats}"
        return stats.sent, elapsed


def _channel_only(app) -> float:
    from backoffice.services import channels

    with app.app_context():
        messages = [
            channels.OutgoingEmail(
                to=f"c{number}@example.org",
                subject="Alerte : Danger – Vol – 75",
                body="Alerte : Danger – Vol – 75\n\nGravité : Danger\n" * 8,
                key=uuid.uuid4().hex,
                language="fr",
                unsubscribe_url=f"https://jasmine.example/unsubscribe/{uuid.uuid4().hex}",
            )
            for number in range(MESSAGES)
        ]
        start = time.perf_counter()
        with channels.email_channel(app.config).session() as session:
            for message in messages:
                outcome = session.send(message)
                assert outcome.status == channels.SENT, outcome
        return MESSAGES / (time.perf_counter() - start)


def main() -> None:
    port = support.free_port()
    with _smtp_server(port), support.temporary_database("bench_smtp") as url:
        app = support.migrated_app(
            url, FAB_UPDATE_PERMS=False, SMTP_HOST="127.0.0.1", SMTP_PORT=port
        )
        written = _setup(app)
        sent, elapsed = _whole_dispatch(app)
        support.report("dispatch_smtp_messages", sent, f"messages ({written} queued)")
        support.report("dispatch_smtp_rate", sent / elapsed, "messages/s", digits=0)
        support.report("dispatch_smtp_channel_rate", _channel_only(app), "messages/s", digits=0)


if __name__ == "__main__":
    main()
