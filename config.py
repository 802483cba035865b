"""Settings read from the environment, with safe defaults for development.

In production (``BACKOFFICE_ENV=production``) nothing secret has a default: a missing secret
key, database URL or key material stops start-up with a message saying what to set.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

from backoffice.services.passwords import validate_password
from backoffice.services.vocabulary import ALERT_LANGUAGES

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("BACKOFFICE_INSTANCE_DIR", BASE_DIR / "instance"))


class ConfigurationError(RuntimeError):
    """Start-up refused because a required setting is missing or unsafe."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def build_config(overrides: dict | None = None) -> dict:
    """The application's settings as a dict, checked for production safety."""
    environment = _env("BACKOFFICE_ENV", "development")
    production = environment == "production"
    settings = _base_settings(environment)
    settings.update(_security_settings(production))
    settings.update(_service_settings())
    if overrides:
        settings.update(overrides)
    if production:
        _require_production_secrets(settings)
    return settings


def _base_settings(environment: str) -> dict:
    return {
        "BACKOFFICE_ENV": environment,
        "APP_NAME": "Jasmine – back office",
        "APP_THEME": "",
        "SQLALCHEMY_DATABASE_URI": _env(
            "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'backoffice.sqlite'}"
        ),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "FAB_CREATE_DB": False,
        "FAB_UPDATE_PERMS": _env_bool("FAB_UPDATE_PERMS", environment != "production"),
        "FAB_ADD_SECURITY_API": False,
        "FAB_API_SWAGGER_UI": False,
        # FAB's own JSON APIs accept staff sessions; the public API is ours, under /api/v1.
        "FAB_ADD_MENU_API": False,
        "FAB_ADD_OPENAPI_VIEWS": False,
        "FAB_ADD_SECURITY_PERMISSION_VIEW": False,
        "FAB_ADD_SECURITY_VIEW_MENU_VIEW": False,
        "FAB_ADD_SECURITY_PERMISSION_VIEWS_VIEW": False,
        "FAB_SECURITY_MANAGER_CLASS": "backoffice.security.BackofficeSecurityManager",
        "FAB_INDEX_VIEW": "backoffice.views.home.HomeIndexView",
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_FOLDER": "translations",
        "BABEL_TRANSLATION_DIRECTORIES": str(BASE_DIR / "translations"),
        "LANGUAGES": {
            "fr": {"flag": "fr", "name": "Français"},
            "en": {"flag": "gb", "name": "English"},
        },
        "ALERT_LANGUAGES": list(ALERT_LANGUAGES),
        "INSTANCE_DIR": str(INSTANCE_DIR),
        "PUBLIC_BASE_URL": _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
    }


def _security_settings(production: bool) -> dict:
    return {
        "SECRET_KEY": _env("SECRET_KEY", None if production else "dev-only-not-secret"),
        "BACKOFFICE_KEYS": _env("BACKOFFICE_KEYS"),
        "BACKOFFICE_KEY_FILE": _env(
            "BACKOFFICE_KEY_FILE", None if production else str(INSTANCE_DIR / "keys.json")
        ),
        "AUTH_TYPE": AUTH_DB,
        "AUTH_USER_REGISTRATION": False,
        "AUTH_ROLE_ADMIN": "Admin",
        "AUTH_ROLE_PUBLIC": "Public",
        "AUTH_RATE_LIMITED": True,
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "AUTH_RATE_LIMIT": _env("AUTH_RATE_LIMIT", "10 per 20 second"),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_LOCKOUT_THRESHOLD": _env_int("LOGIN_LOCKOUT_THRESHOLD", 5),
        "LOGIN_LOCKOUT_MINUTES": _env_int("LOGIN_LOCKOUT_MINUTES", 15),
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        "FAB_PASSWORD_COMPLEXITY_VALIDATOR": validate_password,
        "FAB_SAFE_REDIRECT_HOSTS": [
            h for h in (_env("SAFE_REDIRECT_HOSTS", "127.0.0.1,localhost") or "").split(",") if h
        ],
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "backoffice_session",
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "SESSION_PROTECTION": "strong",
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=_env_int("SESSION_IDLE_MINUTES", 30)),
        "SESSION_ABSOLUTE_HOURS": _env_int("SESSION_ABSOLUTE_HOURS", 12),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "PROXY_FIX_HOPS": _env_int("PROXY_FIX_HOPS", 0),
        "HSTS_ENABLED": _env_bool("HSTS_ENABLED", production),
    }


def _service_settings() -> dict:
    return {
        "SMTP_HOST": _env("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": _env_int("SMTP_PORT", 1025),
        "SMTP_USE_TLS": _env_bool("SMTP_USE_TLS", False),
        "SMTP_USERNAME": _env("SMTP_USERNAME"),
        "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
        "MAIL_FROM": _env("MAIL_FROM", "alertes@jasmine.invalid"),
        "API_MAX_BODY_BYTES": 64 * 1024,
        "API_RATE_LIMIT": _env("API_RATE_LIMIT", "120 per minute"),
        "API_IDEMPOTENCY_HOURS": 24,
        "SCHEDULER_ENABLED": _env_bool("SCHEDULER_ENABLED", False),
        "AUDIT_PAGE_SIZE": 50,
        "DEMO_PASSWORD": _env("DEMO_PASSWORD", "demo-jasmine-2026"),
    }


def _require_production_secrets(settings: dict) -> None:
    missing = []
    if not settings.get("SECRET_KEY"):
        missing.append("SECRET_KEY (a long random string)")
    if not _env("DATABASE_URL"):
        missing.append("DATABASE_URL (postgresql+psycopg://user:password@host/database)")
    if not settings.get("BACKOFFICE_KEYS") and not settings.get("BACKOFFICE_KEY_FILE"):
        missing.append(
            "BACKOFFICE_KEYS or BACKOFFICE_KEY_FILE (create one with `flask --app wsgi keys "
            "generate`)"
        )
    if missing:
        raise ConfigurationError(
            "Production start-up refused; set these environment variables: " + "; ".join(missing)
        )
