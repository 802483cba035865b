"""Helpers shared by the case tests (no test here): users, reports, cases, a structure, and
a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import time

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.user import StaffUser
from backoffice.services import cases

AIDES_WORKER = "demo-social-a"
ACCEPTESS_WORKER = "demo-social-b"


def user(username: str) -> StaffUser:
    return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def unique_phone() -> str:
    """A valid French mobile number (unassigned ranges are refused by intake), random."""
    from backoffice.services import identifiers

    while True:
        phone = "06 " + " ".join(f"{secrets.randbelow(100):02d}" for _ in range(4))
        if identifiers.try_normalise("phone", phone):
            return phone


def open_case(username: str = AIDES_WORKER, **overrides) -> cases.Case:
    """A case opened in the field by ``username``, committed."""
    actor = user(username)
    contact = overrides.pop(
        "contact",
        cases.Contact(name=unique("Lila"), phone=unique_phone(), preferred_language="pt"),
    )
    facts = overrides.pop("facts", cases.CaseFacts(department="75", violence_types=["theft"]))
    case = cases.open_direct(
        actor,
        contact,
        facts,
        needs=overrides.pop("needs", ["health"]),
        assignee_id=overrides.pop("assignee_id", actor.id),
        consent_follow_up=True,
    )
    db.session.commit()
    return case


def make_report(**victim_and_incident):
    """A report through the real intake, with the victim's consent to follow-up."""
    from backoffice.services import intake

    incident = {
        "date": victim_and_incident.pop(
            "date", (utcnow().date() - dt.timedelta(days=3)).isoformat()
        ),
        "department": victim_and_incident.pop("department", "93"),
        "violence_types": victim_and_incident.pop("violence_types", ["theft"]),
    }
    if "time" in victim_and_incident:
        incident["time"] = victim_and_incident.pop("time")
    payload = {
        "incident": incident,
        "narrative": victim_and_incident.pop("narrative", "Un client a refusé de payer."),
        "victim": {
            "pseudonym": victim_and_incident.pop("pseudonym", unique("Bianca")),
            "contact": {"phone": victim_and_incident.pop("phone", unique_phone())},
            "preferred_language": "ro",
        },
        "consent": {
            "publish_alert": False,
            "follow_up": victim_and_incident.pop("follow_up", True),
            "share_with_partner": True,
            "statistics": True,
        },
    }
    report = intake.create_report(intake.validate_report(payload))
    db.session.commit()
    return report


def structure():
    """A structure of the directory offering health services (created when missing)."""
    from backoffice.models.structure import Structure

    found = db.session.scalar(select(Structure).where(Structure.code == "test-cases-cegidd"))
    if found is None:
        found = Structure(
            code="test-cases-cegidd",
            name="CeGIDD de test",
            category="cegidd",
            city="Paris",
            department="75",
            active=True,
        )
        found.services = ["testing", "pep"]
        db.session.add(found)
        db.session.commit()
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """Messages received by the loopback SMTP server."""

    def __init__(self) -> None:
        self.messages: list = []
        self.peers: list = []  # the client's (address, port) of each message's SMTP session

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.peers.append(session.peer)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def wait_for(self, count: int, seconds: float = 5.0) -> list:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on 127.0.0.1 (aiosmtpd); the app sends to it during the test."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = {key: app.config[key] for key in ("SMTP_HOST", "SMTP_PORT", "SMTP_USE_TLS")}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_USE_TLS=False)
    try:
        yield inbox
    finally:
        app.config.update(saved)
        controller.stop()
