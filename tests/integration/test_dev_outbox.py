"""The development outbox: without an SMTP server or SMS gateway, every message is a file in
``instance/outbox/`` (API.md, "Development outbox"); production refuses to start that way."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import update

from backoffice.demo import AIDES
from backoffice.extensions import db
from backoffice.models.dispatch import Delivery
from backoffice.services import dispatch, mailer, outbox, subscribers
from config import ConfigurationError, build_config
from tests.integration.dispatch_support import make_alert, organisation, unique_mobile

NAME = re.compile(r"^\d{8}T\d{12}Z-(sms|email)-[0-9a-f]{8}\.txt$")


@pytest.fixture
def outbox_dir(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "outbox")
    monkeypatch.setitem(app.config, "SMS_BACKEND", "outbox")
    monkeypatch.setitem(app.config, "MESSAGE_OUTBOX_DIR", str(tmp_path / "outbox"))
    return tmp_path / "outbox"


def _files(folder) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.iterdir())}


def test_an_alert_sms_and_a_welcome_land_in_the_outbox_as_text_files(app_context, outbox_dir):
    phone = unique_mobile()
    data = {"pseudonym": "Ana", "phone": phone, "language": "ro", "departments": "64"}
    subscriber = subscribers.register(data, organisation(AIDES).id, validate_now=True)
    alert = make_alert(["64"])
    outbox.enqueue_alert(alert)
    db.session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id)
        .values(next_attempt_at=dt.datetime(2000, 1, 1))
    )
    db.session.commit()

    dispatch.dispatch_due(max_seconds=20)

    mine = {name: text for name, text in _files(outbox_dir).items() if f"To: {phone}" in text}
    assert len(mine) == 2  # the welcome and the alert
    for name, text in mine.items():
        assert NAME.match(name), name
        head, _, body = text.partition("\n\n")
        assert head.splitlines() == [f"To: {phone}", "Channel: sms", "Language: ro"]
        assert body.strip()
    statuses = {d.status for d in db.session.query(Delivery).filter_by(subscriber_id=subscriber.id)}
    assert statuses == {"sent"}


def test_staff_email_goes_to_the_outbox_too(app_context, outbox_dir):
    mailer.send_email("someone@example.org", "Digest", "Three actions are due.")
    (text,) = _files(outbox_dir).values()
    assert text.startswith("To: someone@example.org\nChannel: email\n")
    assert "Subject: Digest" in text and "Three actions are due." in text


def _production(monkeypatch, **env):
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("BACKOFFICE_KEY_FILE", "/etc/backoffice/keys.json")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://backoffice.example.org")
    for name in ("SMTP_HOST", "SMS_GATEWAY_URL", "RATELIMIT_STORAGE_URI", "MAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_production_refuses_to_start_without_real_channels_or_shared_limits(monkeypatch):
    _production(monkeypatch, MAIL_BACKEND="outbox")
    with pytest.raises(ConfigurationError) as refused:
        build_config()
    message = str(refused.value)
    assert "SMTP_HOST" in message and "for SMS" in message
    assert "RATELIMIT_STORAGE_URI" in message


def test_production_starts_with_smtp_a_gateway_and_redis(monkeypatch):
    _production(
        monkeypatch,
        SMTP_HOST="smtp.example.org",
        SMS_GATEWAY_URL="https://sms.example.org/send",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
    )
    settings = build_config()
    assert settings["MAIL_BACKEND"] == "smtp" and settings["SMS_BACKEND"] == "gateway"


def test_production_with_email_only_needs_no_gateway(monkeypatch):
    _production(
        monkeypatch,
        SMTP_HOST="smtp.example.org",
        MESSAGE_CHANNELS="email",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
    )
    assert build_config()["MESSAGE_CHANNELS"] == ["email"]


def test_development_without_servers_uses_the_outbox(monkeypatch):
    for name in ("SMTP_HOST", "SMS_GATEWAY_URL", "MAIL_BACKEND", "SMS_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_ENV", "development")  # production is the default
    settings = build_config()
    assert settings["MAIL_BACKEND"] == "outbox" and settings["SMS_BACKEND"] == "outbox"
    assert settings["MESSAGE_OUTBOX_DIR"].endswith("outbox")
