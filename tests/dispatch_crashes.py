"""The exactly-once fault run, shared by a test and ``bench/dispatch_crashes.py``.

An alert goes to N email subscribers through ``flask dispatch run`` worker processes and a
real SMTP server on loopback (aiosmtpd) that, every ``drop_every``-th message, keeps the
message and drops the connection without answering the end of data. Workers are killed
with SIGKILL in the middle of the run, ``crashes`` times, and started again. At the end,
each recipient's mailbox is counted by Message-ID: lost, duplicates.

Not a test module: call ``crash_run`` inside an application context of the test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from backoffice.demo import AIDES
from backoffice.extensions import db
from backoffice.models.dispatch import Delivery
from backoffice.services import outbox, subscribers
from tests.integration.dispatch_support import (
    SmtpRecorder,
    SmtpServer,
    make_alert,
    organisation,
    unique_email,
)

ROOT = Path(__file__).resolve().parents[1]


class DroppingRecorder(SmtpRecorder):
    """Keeps every message; every ``drop_every``-th one, drops the connection at once,
    before answering the end of data (the sender cannot know the message was kept)."""

    def __init__(self, drop_every: int) -> None:
        super().__init__()
        self.drop_every = drop_every
        self.dropped = 0

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        with self.lock:
            count = len(self.received)
        if self.drop_every and count % self.drop_every == 0:
            self.dropped += 1
            server.transport.abort()
        return answer


class EventsApi:
    """Brevo's transactional email events API on loopback (``GET /v3/smtp/statistics/events
    ?messageId=…`` with an ``api-key`` header), answering from what the SMTP server kept:
    the relay the dispatcher asks about a message left in doubt (``MAIL_IN_DOUBT=brevo``)."""

    KEY = "xkeysib-loopback"

    def __init__(self, recorder: SmtpRecorder) -> None:
        self.recorder = recorder
        self.questions = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                if url.path != "/v3/smtp/statistics/events":
                    return self._answer(404, {"code": "not_found", "message": "Not found"})
                if self.headers.get("api-key") != EventsApi.KEY:
                    return self._answer(401, {"code": "unauthorized", "message": "Key not found"})
                wanted = parse_qs(url.query).get("messageId", [""])[0]
                api.questions += 1
                kept = api.recorder.raw_count({wanted})[wanted]
                events = [{"event": "requests", "messageId": wanted}] * min(kept, 1)
                return self._answer(200, {"events": events} if events else {})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v3"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def settings(self) -> dict:
        return {
            "MAIL_IN_DOUBT": "brevo",
            "MAIL_RECONCILE_URL": self.url,
            "MAIL_RECONCILE_API_KEY": self.KEY,
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class CrashRun:
    recipients: int
    crashes: int
    dropped: int
    lost: int
    duplicates: int
    unconfirmed: int
    reconciled: int
    seconds: float


def _subscribers(count: int, department: str) -> dict[int, str]:
    aides = organisation(AIDES)
    people = [
        subscribers.register(
            {
                "pseudonym": f"Crash {n}",
                "email": unique_email("crash"),
                "language": "fr",
                "departments": department,
            },
            aides.id,
            validate_now=True,
        )
        for n in range(count)
    ]
    db.session.commit()
    return {p.id: subscribers.contact_for_dispatch(p, "email") for p in people}


def _env(database_url: str, keys: str, smtp_port: int, instance: Path, events: EventsApi) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMS_", "SMTP_", "DISPATCH_", "MAIL_"))
    }
    env.update(
        **events.settings(),
        DATABASE_URL=database_url,
        BACKOFFICE_KEYS=keys,
        BACKOFFICE_KEY_FILE="",
        BACKOFFICE_INSTANCE_DIR=str(instance),
        FAB_UPDATE_PERMS="false",
        SCHEDULER_ENABLED="false",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_TIMEOUT="5",
        DISPATCH_BATCH_SIZE="25",
        DISPATCH_LEASE_SECONDS="3",
        DISPATCH_OUTAGE_DELAY_SECONDS="0.2",
        DISPATCH_BACKOFF_SECONDS="0.2",
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


def _pending(alert_id: int) -> int:
    db.session.expire_all()
    rows = db.session.scalars(select(Delivery.status).where(Delivery.alert_id == alert_id))
    return sum(1 for status in rows if status in ("queued", "sending"))


def crash_run(
    app, instance: Path, *, recipients: int = 300, crashes: int = 2, drop_every: int = 37
) -> CrashRun:
    server = SmtpServer(DroppingRecorder(drop_every))
    server.start()
    events = EventsApi(server.recorder)
    started = time.monotonic()
    try:
        addresses = _subscribers(recipients, "23")
        alert = make_alert(["23"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        env = _env(
            app.config["SQLALCHEMY_DATABASE_URI"],
            app.config["BACKOFFICE_KEYS"],
            server.port,
            instance,
            events,
        )
        killed = 0
        deadline = time.monotonic() + 240
        while _pending(alert.id) and time.monotonic() < deadline:
            worker = _worker(env)
            if killed < crashes:
                target = len(server.recorder.received) + recipients // (crashes + 1)
                while len(server.recorder.received) < target and worker.poll() is None:
                    time.sleep(0.005)
                if worker.poll() is None:
                    worker.send_signal(signal.SIGKILL)
                    killed += 1
                worker.wait(10)
                time.sleep(3.2)  # the dead worker's lease runs out
                continue
            _out, err = worker.communicate(timeout=240)
            if worker.returncode != 0:
                raise RuntimeError(err.decode()[-2000:])
            time.sleep(0.3)  # rows released for a short delay become due again
        return _count(alert.id, addresses, server.recorder, killed, started, events.questions)
    finally:
        server.stop()
        events.stop()


def _count(alert_id, addresses, recorder, crashes, started, questions) -> CrashRun:
    db.session.expire_all()
    rows = {
        d.subscriber_id: d
        for d in db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
    }
    received = recorder.message_ids_by_recipient()
    lost = duplicates = 0
    for subscriber_id, address in addresses.items():
        expected = f"<{rows[subscriber_id].idempotency_key}@jasmine.invalid>"
        copies = recorder.raw_count({expected})[expected]
        lost += copies == 0
        duplicates += max(0, copies - 1)
        assert received.get(address, set()) <= {expected}
    unconfirmed = sum(1 for d in rows.values() if d.error_code == "unconfirmed")
    return CrashRun(
        recipients=len(addresses),
        crashes=crashes,
        dropped=recorder.dropped,
        lost=lost,
        duplicates=duplicates,
        unconfirmed=unconfirmed,
        reconciled=questions,
        seconds=round(time.monotonic() - started, 1),
    )
