"""Production refuses to start without its secrets; development has safe defaults."""

from __future__ import annotations

import pytest

import backoffice  # noqa: F401  (config.py imports from the package, which imports config)
from config import DEVELOPMENT_SECRET_KEY, ConfigurationError, build_config


def test_unset_environment_is_production_and_refuses_to_start_without_secrets(monkeypatch):
    """With BACKOFFICE_ENV unset, the published development key (which lets a forged cookie
    skip the password step) and the demo password are not there to be used."""
    for name in ("BACKOFFICE_ENV", "SECRET_KEY", "DATABASE_URL", "DEMO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        build_config()
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("BACKOFFICE_KEY_FILE", "/etc/backoffice/keys.json")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://backoffice.example.org")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example.org/send")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    settings = build_config()
    assert settings["BACKOFFICE_ENV"] == "production"
    assert settings["DEMO_PASSWORD"] is None
    assert settings["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("key", [DEVELOPMENT_SECRET_KEY, "short-secret"])
def test_production_refuses_the_published_or_a_short_secret_key(monkeypatch, key):
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("BACKOFFICE_KEY_FILE", "/etc/backoffice/keys.json")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        build_config()


def test_an_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ENV", "prod")
    with pytest.raises(ConfigurationError, match="BACKOFFICE_ENV"):
        build_config()


def test_production_without_secrets_refuses_to_start(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "BACKOFFICE_KEYS", "BACKOFFICE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    with pytest.raises(ConfigurationError) as error:
        build_config()
    message = str(error.value)
    assert "SECRET_KEY" in message and "DATABASE_URL" in message and "keys generate" in message


def test_production_with_secrets_starts_with_secure_cookies(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("BACKOFFICE_KEY_FILE", "/etc/backoffice/keys.json")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://backoffice.example.org")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example.org/send")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    settings = build_config()
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["HSTS_ENABLED"] is True
    assert settings["FAB_UPDATE_PERMS"] is False


def test_production_app_without_key_file_stops_with_a_clear_message(monkeypatch, tmp_path):
    from backoffice import create_app

    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    monkeypatch.setenv("BACKOFFICE_KEY_FILE", str(tmp_path / "missing.json"))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://backoffice.example.org")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example.org/send")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError, match="keys generate"):
        create_app({"INSTANCE_DIR": str(tmp_path)})


def test_development_defaults(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ENV", "development")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = build_config()
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert "instance" in settings["SQLALCHEMY_DATABASE_URI"]
    assert settings["BABEL_DEFAULT_LOCALE"] == "fr"
    assert settings["AUTH_USER_REGISTRATION"] is False


def test_production_requires_the_public_address(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("BACKOFFICE_KEY_FILE", "/etc/backoffice/keys.json")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL"):
        build_config()


def test_the_environment_template_lists_every_setting():
    """deploy/backoffice.env.example names every variable config.py reads."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = (root / "config.py").read_text()
    read = set(re.findall(r'_env(?:_[a-z]+)?\(\s*"([A-Z0-9_]+)"', source))
    read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', source))
    template = (root / "deploy" / "backoffice.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z0-9_]+)=", template, flags=re.MULTILINE))
    assert read and not read - listed, sorted(read - listed)


def test_the_development_server_log_keeps_no_query_string():
    """A sign-in link's token (or a searched number) never reaches the request log."""
    import logging

    from backoffice import without_query_strings

    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
        ("GET /invitation/?token=s3cr3t-token&x=1 HTTP/1.1", "302", "-"), None,
    )  # fmt: skip
    assert without_query_strings(record)
    assert "s3cr3t" not in record.getMessage()
    assert record.getMessage() == '"GET /invitation/?… HTTP/1.1" 302 -'
