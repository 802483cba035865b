"""Helpers shared by the moderation, alert and check tests: reports in any status, users."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from flask import current_app

from backoffice.extensions import db
from backoffice.models.report import Report
from backoffice.security import MODERATOR
from backoffice.services import alerts, intake, moderation

PASSWORD = "demo-jasmine-2026"


def unique_phone() -> str:
    """A valid French mobile number nobody else in the test session uses."""
    return "0612" + "".join(random.choice("0123456789") for _ in range(6))


def payload(**overrides) -> dict:
    """A report body as API.md describes it, with a fresh aggressor phone."""
    body = {
        "language": "fr",
        "channel": "web",
        "incident": {
            "date": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
            "department": "75",
            "city": "Paris",
            "context": "indoor_home",
            "violence_types": ["theft", "condom_removal"],
        },
        "narrative": (
            f"Je m'appelle Lila, il m'a payée puis a repris l'argent. Ref {uuid.uuid4().hex[:8]}."
        ),
        "aggressor": {
            "description": {"gender": "man", "age_range": "36-45", "hair": "short brown"},
            "vehicle": {"make": "Renault", "model": "Clio", "colour": "grey"},
            "identifiers": [{"kind": "phone", "value": unique_phone()}],
        },
        "victim": {"pseudonym": "Lila", "contact": {"phone": "07 98 76 54 32"}},
        "consent": {
            "publish_alert": True,
            "follow_up": True,
            "share_with_partner": False,
            "statistics": True,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def new_report(**overrides) -> Report:
    report = intake.submit_report(payload(**overrides))
    db.session.commit()
    return report


def user(username: str):
    return current_app.appbuilder.sm.find_user(username=username)


def second_moderator():
    """Another Moderator (created once per test session)."""
    found = user("test-moderator-2")
    return found if found is not None else _add_moderator("test-moderator-2", "Maëlle")


def newcomer_moderator() -> str:
    """A Moderator created for one test, so her notices are that test's alone (demo-moderator's
    list fills with the notices other tests' rules queue, some dated ahead); the caller
    deactivates her with ``retire``."""
    return _add_moderator(f"test-newcomer-{uuid.uuid4().hex[:8]}", "Nadia").username


def _add_moderator(username: str, first_name: str):
    """A Moderator of demo-moderator's association, committed."""
    sm = current_app.appbuilder.sm
    created = sm.add_user(
        username=username,
        first_name=first_name,
        last_name="Test",
        email=f"{username}@demo.invalid",
        role=sm.find_role(MODERATOR),
        password=PASSWORD,
    )
    created.organisation_id = user("demo-moderator").organisation_id
    db.session.commit()
    return created


def retire(username: str) -> None:
    """Deactivate a test's user: later tests' reports must not notify her."""
    user(username).active = False
    db.session.commit()


def drive(report: Report, status: str, actor=None) -> Report:
    """Take a fresh report to ``status`` through the real transitions, then commit."""
    actor = actor or user("demo-moderator")
    steps = {
        "received": [],
        "in_review": ["claim"],
        "needs_info": ["claim", "request_info"],
        "approved": ["claim", "review", "approve"],
        "rejected": ["claim", "reject"],
        "recorded": ["claim", "record_only"],
        "merged": ["claim", "merge"],
        "published": ["claim", "review", "approve", "publish"],
        "archived": ["claim", "review", "approve", "publish", "retract"],
    }[status]
    alert = None
    for step in steps:
        if step == "review":
            moderation.review_redaction(report, actor)
        elif step == "publish":
            alert = alerts.compose([report], actor)
            alerts.publish(alert, actor)
        elif step == "retract":
            alerts.retract(alert, actor, "Test retraction")
        elif step == "merge":
            target = new_report()
            moderation.perform(report, "merge", actor, merge_into=target)
        elif step in ("request_info", "reject"):
            moderation.perform(report, step, actor, reason="Test reason")
        else:
            moderation.perform(report, step, actor)
    db.session.commit()
    assert report.status == status
    return report


def report_in(status: str, actor=None, **overrides) -> Report:
    return drive(new_report(**overrides), status, actor)
