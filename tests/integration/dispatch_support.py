"""Real servers on loopback for the dispatch tests: an SMTP server (aiosmtpd) that records
what it receives, and an HTTP SMS gateway that fails on cue and honours client references.

Helpers only (no test here); the dispatch and subscriber tests import them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.organisation import Organisation
from backoffice.services import references


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- SMTP ------------------------------------------------------------------------------------


class SmtpRecorder:
    """aiosmtpd handler: keeps (Message-ID, To, Subject, message) of every accepted message.

    ``refuse`` holds domains whose recipients get a 550; ``delay`` slows every message;
    ``hang_after`` makes the message after that many hang until the server is stopped
    (``hanging`` is set when it starts hanging).
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str, email.message.EmailMessage]] = []
        self.lock = threading.Lock()
        self.refuse: set[str] = set()
        self.delay = 0.0
        self.hang_after: int | None = None
        self.hanging = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rpartition("@")[2] in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            count = len(self.received)
        if self.hang_after is not None and count >= self.hang_after:
            self.hanging.set()
            await asyncio.sleep(60)  # cancelled when the server stops
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                (message["Message-ID"], envelope.rcpt_tos[0], str(message["Subject"]), message)
            )
        return "250 Message accepted for delivery"

    def message_ids_by_recipient(self) -> dict[str, set[str]]:
        with self.lock:
            result: dict[str, set[str]] = {}
            for message_id, to, _subject, _message in self.received:
                result.setdefault(to, set()).add(message_id)
            return result

    def raw_count(self, message_ids: set[str]) -> Counter:
        with self.lock:
            return Counter(m for m, *_ in self.received if m in message_ids)


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started again on its port."""

    def __init__(self, recorder: SmtpRecorder | None = None) -> None:
        self.recorder = recorder or SmtpRecorder()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        for _ in range(50):
            try:
                self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
                self.controller.start()
                return
            except (OSError, RuntimeError):
                time.sleep(0.1)  # the port is still being released
        raise RuntimeError("SMTP test server did not start")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# --- SMS gateway -------------------------------------------------------------------------------


class SmsGateway:
    """An HTTP SMS gateway on loopback.

    ``script`` lists, per client reference, what successive submissions get: ``"500"``, or
    ``"timeout"`` (the gateway takes the message, then answers too late), or ``"ok"``. A
    reference already taken is never delivered twice — as a gateway that honours client
    references does. ``handset`` is what phones received: (to, text, reference).
    """

    def __init__(self, script: list[str] | None = None, slow_seconds: float = 1.5) -> None:
        self.script = script or ["ok"]
        self.slow_seconds = slow_seconds
        self.handset: list[tuple[str, str, str]] = []
        self.submissions: Counter = Counter()
        self.taken: dict[str, str] = {}
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body or b"{}")
                status, answer, delay = gateway.handle(payload, self.headers)
                if delay:
                    time.sleep(delay)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, payload: dict, headers) -> tuple[int, dict, float]:
        reference = payload.get("reference") or ""
        with self.lock:
            attempt = self.submissions[reference]
            self.submissions[reference] += 1
            mode = self.script[min(attempt, len(self.script) - 1)]
            if mode == "500":
                return 500, {"error": "internal"}, 0
            if mode == "400":
                return 400, {"error": "unknown number"}, 0
            if reference not in self.taken:
                self.taken[reference] = f"gw-{uuid.uuid4().hex[:10]}"
                self.handset.append((payload.get("to"), payload.get("text"), reference))
            answer = {"id": self.taken[reference]}
        return 200, answer, self.slow_seconds if mode == "timeout" else 0

    def __enter__(self) -> SmsGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- data --------------------------------------------------------------------------------------


@pytest.fixture
def smtp(app, monkeypatch):
    """The application sends its email to a real SMTP server on loopback during the test
    (import it into a test module: ``smtp = dispatch_support.smtp``)."""
    server = SmtpServer()
    server.start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 3)
    yield server
    server.stop()


def postpone_all_but(kept) -> None:
    """Leave only the deliveries matching ``kept`` due (the others until 2100): the database
    is shared by the test session, and other tests' queued rows would share the batches of
    a scripted gateway (a slow answer puts the whole batch in doubt), in whatever order tests
    run."""
    ours = select(Delivery.id).where(kept)
    db.session.execute(
        update(Delivery)
        .where(Delivery.status.in_(("queued", "sending")), Delivery.id.not_in(ours))
        .values(next_attempt_at=dt.datetime(2100, 1, 1))
    )
    db.session.commit()


def unique_mobile() -> str:
    """A valid French mobile number, random so that tests sharing a database do not clash."""
    import phonenumbers

    while True:
        number = "+336" + "".join(random.choice("0123456789") for _ in range(8))
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def unique_email(tag: str = "w") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.org"


def make_alert(departments: list[str], *, status: str = "published", **fields) -> Alert:
    """A published alert written directly (composition and publication are another area's),
    with a real reference: it shows in the public feed like any other."""
    now = utcnow()
    alert = Alert(
        reference=references.next_reference("A"),
        status=status,
        severity=fields.pop("severity", "dangerous"),
        violence_types=fields.pop("violence_types", ["theft", "physical_assault"]),
        departments=departments,
        incident_date=dt.date(2026, 11, 1),
        date_precision="day",
        aggressor_description={"gender": "man", "age_range": "36-45"},
        vehicle={},
        summary="Se présente comme un client régulier.",
        reports_count=1,
        published_at=now if status == "published" else None,
        dispatch_requested_at=fields.pop("dispatch_requested_at", None),
        **fields,
    )
    db.session.add(alert)
    db.session.flush()
    return alert


def organisation(name: str) -> Organisation:
    from sqlalchemy import select

    return db.session.scalar(select(Organisation).where(Organisation.name == name))
