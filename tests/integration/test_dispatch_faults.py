"""Faults the dispatch survives, with real servers and a real process: an SMTP server that
stops in the middle of a dispatch, and a worker killed with SIGKILL mid-batch. Each time,
every recipient ends with exactly one message (counted by Message-ID at the server)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from backoffice.demo import AIDES
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.services import dispatch, outbox, subscribers
from tests.dispatch_crashes import EventsApi
from tests.integration.dispatch_support import (
    SmtpServer,
    make_alert,
    organisation,
    unique_email,
)

ROOT = Path(__file__).resolve().parents[2]


def _email_subscribers(count: int, department: str) -> list:
    aides = organisation(AIDES)
    return [
        subscribers.register(
            {
                "pseudonym": f"Fault {number}",
                "email": unique_email("fault"),
                "language": ("fr", "ro", "zh", "ar")[number % 4],
                "departments": department,
            },
            aides.id,
            validate_now=True,
        )
        for number in range(count)
    ]


def _alert_deliveries(alert_id: int) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)))


def _assert_exactly_one_each(recorder, alert_id: int, addresses: dict[int, str]) -> int:
    """Every recipient got this alert's message, and one Message-ID each; returns duplicates."""
    rows = _alert_deliveries(alert_id)
    mine = {d.subscriber_id: d for d in rows if d.subscriber_id in addresses}
    assert len(mine) == len(addresses)
    assert {d.status for d in mine.values()} == {"sent"}, [d.error_code for d in mine.values()]
    received = recorder.message_ids_by_recipient()
    keys = {}
    for subscriber_id, address in addresses.items():
        expected = f"<{mine[subscriber_id].idempotency_key}@jasmine.invalid>"
        ids_for_alert = {m for m in received.get(address, set()) if m == expected}
        assert ids_for_alert == {expected}, f"subscriber {subscriber_id}: {received.get(address)}"
        keys[expected] = subscriber_id
    raw = recorder.raw_count(set(keys))
    return sum(raw.values()) - len(keys)


def test_smtp_server_stopped_mid_dispatch_and_restarted(app, app_context, monkeypatch):
    server = SmtpServer()
    server.recorder.hang_after = 5  # the 6th message hangs until the server is stopped
    server.start()
    monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 3)
    # This server never keeps a message it did not answer: sending again is right here.
    monkeypatch.setitem(app.config, "MAIL_IN_DOUBT", "resend")
    try:
        people = _email_subscribers(14, "28")
        alert = make_alert(["28"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        addresses = {p.id: subscribers.contact_for_dispatch(p, "email") for p in people}

        stopper = threading.Thread(target=lambda: (server.recorder.hanging.wait(30), server.stop()))
        stopper.start()
        t0 = utcnow()
        dispatch.dispatch_due(now=t0)
        stopper.join(30)

        states = [(d.status, d.error_code) for d in _alert_deliveries(alert.id)]
        sent = sum(1 for status, _code in states if status == "sent")
        assert 1 <= sent < len(people), states
        waiting = {code for status, code in states if status == "queued"}
        assert waiting <= {"smtp_connection_lost", "smtp_unavailable", "in_doubt"} and waiting

        server.recorder.hang_after = None
        server.start()  # same port, as after a restart
        dispatch.dispatch_due(now=t0 + dt.timedelta(hours=1))

        duplicates = _assert_exactly_one_each(server.recorder, alert.id, addresses)
        assert duplicates == 0  # the hung message never reached the mailbox
    finally:
        server.stop()


def _worker_env(app, smtp_port: int, instance: Path, events: EventsApi) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMS_", "SMTP_", "DISPATCH_", "MAIL_"))
    }
    env.update(
        **events.settings(),
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        BACKOFFICE_KEYS=app.config["BACKOFFICE_KEYS"],
        BACKOFFICE_INSTANCE_DIR=str(instance),
        FAB_UPDATE_PERMS="false",
        SCHEDULER_ENABLED="false",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_TIMEOUT="5",
        DISPATCH_BATCH_SIZE="10",
        DISPATCH_COMMIT_EVERY="4",
        DISPATCH_LEASE_SECONDS="3",
        PYTHONPATH=str(ROOT),
    )
    return env


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "dispatch", "run", "--until-idle"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_worker_process_killed_mid_batch_then_restarted(app, app_context, tmp_path):
    server = SmtpServer()
    server.recorder.delay = 0.05  # slow enough to kill the worker in the middle of a batch
    server.start()
    events = EventsApi(server.recorder)  # the relay a send left in doubt is checked with
    try:
        people = _email_subscribers(30, "36")
        alert = make_alert(["36"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        addresses = {p.id: subscribers.contact_for_dispatch(p, "email") for p in people}
        env = _worker_env(app, server.port, tmp_path, events)

        first = _worker(env)
        deadline = time.monotonic() + 60
        while len(server.recorder.received) < 13 and time.monotonic() < deadline:
            if first.poll() is not None:
                raise AssertionError(first.stderr.read().decode()[-2000:])
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        states = [d.status for d in _alert_deliveries(alert.id)]
        assert "sending" in states, "the worker was not killed in the middle of a batch"
        assert states.count("sent") < len(people)

        time.sleep(3.5)  # the dead worker's lease runs out
        second = _worker(env)
        _out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()[-2000:]

        duplicates = _assert_exactly_one_each(server.recorder, alert.id, addresses)
        # Each send is recorded before and after it crosses the wire: nothing goes twice.
        assert duplicates == 0
    finally:
        server.stop()
        events.stop()
