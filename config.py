"""Settings read from the environment; production unless told otherwise.

Production is the default: with ``BACKOFFICE_ENV`` unset nothing secret has a default, and a
missing or published secret key, database URL or key material stops start-up with a message
saying what to set. Development defaults (a known secret key, the demo password) exist only
with ``BACKOFFICE_ENV=development``, which ``make run``, ``make test`` and the tests set.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

from backoffice.services.passwords import DEFAULT_DEMO_PASSWORD
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.views.passwords import validate_password

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("BACKOFFICE_INSTANCE_DIR", BASE_DIR / "instance"))


class ConfigurationError(RuntimeError):
    """Start-up refused because a required setting is missing or unsafe."""


ENVIRONMENTS = ("production", "development")
# Published in the repository: never accepted outside development.
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 (published on purpose)
MIN_SECRET_KEY_LENGTH = 32


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> tuple[str, ...]:
    value = os.environ.get(name)
    value = default if value is None else value  # set but empty: an empty list
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def build_config(overrides: dict | None = None) -> dict:
    """The application's settings as a dict, checked for production safety."""
    environment = _env("BACKOFFICE_ENV", "production")
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"BACKOFFICE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}."
        )
    # Anything but development is production: a typo must not bring the published secrets.
    production = environment != "development"
    settings = _base_settings(environment)
    settings.update(_security_settings(production))
    settings.update(_service_settings(production))
    settings.update(_message_backends(production))
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
        # A pooled connection the server closed (restart, failover, idle timeout) is tested
        # before use and replaced, instead of failing the request that drew it.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
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
        # Links in alert emails (unsubscribe) and SMS webhooks: no default in production.
        "PUBLIC_BASE_URL": _env(
            "PUBLIC_BASE_URL", "http://127.0.0.1:5000" if environment == "development" else None
        ),
        # The programme's public site (for workers), printed at the foot of the alert sheets.
        "PUBLIC_SITE_URL": _env(
            "PUBLIC_SITE_URL", "https://jasmine.example" if environment == "development" else None
        ),
    }


def _security_settings(production: bool) -> dict:
    return {
        "SECRET_KEY": _env("SECRET_KEY", None if production else DEVELOPMENT_SECRET_KEY),
        "BACKOFFICE_KEYS": _env("BACKOFFICE_KEYS"),
        "BACKOFFICE_KEY_FILE": _env(
            "BACKOFFICE_KEY_FILE", None if production else str(INSTANCE_DIR / "keys.json")
        ),
        "AUTH_TYPE": AUTH_DB,
        "AUTH_USER_REGISTRATION": False,
        "AUTH_ROLE_ADMIN": "Superuser",
        "AUTH_ROLE_PUBLIC": "Public",
        "AUTH_RATE_LIMITED": True,
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "AUTH_RATE_LIMIT": _env("AUTH_RATE_LIMIT", "10 per 20 second"),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", "memory://"),
        # Failed sign-ins delay the next attempt of that username from that address (0, 0,
        # 0, 2, 4, 8… seconds, capped); the count restarts after a quiet window.
        "LOGIN_DELAY_MAX_SECONDS": _env_int("LOGIN_DELAY_MAX_SECONDS", 15 * 60),
        "LOGIN_FAILURE_WINDOW_MINUTES": _env_int("LOGIN_FAILURE_WINDOW_MINUTES", 60),
        # Roles that read confidential data sign in with a second factor (empty: optional).
        "SECOND_FACTOR_REQUIRED_ROLES": _env_list(
            "SECOND_FACTOR_REQUIRED_ROLES", "Admin,Moderator,SocialWorker,DataProtection"
        ),
        # Roles whose grant or removal waits for a second Admin (roles that read confidential
        # data or the audit trail); roles that approve such requests are added in code.
        "FOUR_EYES_ROLES": _env_list("FOUR_EYES_ROLES", "Moderator,SocialWorker,DataProtection"),
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
        # How long the link of a staff invitation (or of a password reset by email) works.
        "INVITATION_HOURS": _env_int("INVITATION_HOURS", 72),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "PROXY_FIX_HOPS": _env_int("PROXY_FIX_HOPS", 0),
        "HSTS_ENABLED": _env_bool("HSTS_ENABLED", production),
        # Signed checkpoints of the audit chain's head, outside the database (another disk,
        # a mounted share): `audit verify` then detects a cut tail. Empty: none exported.
        "AUDIT_CHECKPOINT_DIR": _env("AUDIT_CHECKPOINT_DIR"),
        # Audit retention (services/audit_retention.py): read events, then staff and admin
        # changes, become tombstones after this many months.
        "AUDIT_READ_RETENTION_MONTHS": _env_int("AUDIT_READ_RETENTION_MONTHS", 12),
        "AUDIT_CHANGE_RETENTION_MONTHS": _env_int("AUDIT_CHANGE_RETENTION_MONTHS", 60),
    }


def _service_settings(production: bool) -> dict:
    return {
        "SMTP_HOST": _env("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": _env_int("SMTP_PORT", 1025),
        "SMTP_USE_TLS": _env_bool("SMTP_USE_TLS", False),
        "SMTP_USERNAME": _env("SMTP_USERNAME"),
        "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
        "MAIL_FROM": _env("MAIL_FROM", "alertes@jasmine.invalid"),
        "SMTP_TIMEOUT": _env_int("SMTP_TIMEOUT", 30),
        # Cases: a note's author may edit it this long, then only corrections; the daily
        # digest lists actions due within this many days (and the overdue ones).
        "CASE_NOTE_EDIT_MINUTES": _env_int("CASE_NOTE_EDIT_MINUTES", 15),
        "CASE_DIGEST_DAYS_AHEAD": _env_int("CASE_DIGEST_DAYS_AHEAD", 7),
        "API_MAX_BODY_BYTES": 64 * 1024,
        "API_RATE_LIMIT": _env("API_RATE_LIMIT", "120 per minute"),
        "API_IDEMPOTENCY_HOURS": 24,
        "SCHEDULER_ENABLED": _env_bool("SCHEDULER_ENABLED", False),
        # /healthz: the scheduler must have started a job this recently, and the oldest due
        # delivery waited less than this; /metrics asks for this bearer token when set.
        "HEALTH_SCHEDULER_MAX_SECONDS": _env_int("HEALTH_SCHEDULER_MAX_SECONDS", 120),
        "HEALTH_OUTBOX_LAG_SECONDS": _env_int("HEALTH_OUTBOX_LAG_SECONDS", 600),
        "METRICS_TOKEN": _env("METRICS_TOKEN"),
        # A running job renews its lock this often (at most; a third of its lease otherwise).
        "JOB_LEASE_RENEW_SECONDS": float(_env("JOB_LEASE_RENEW_SECONDS", "60")),
        # Alert dispatch (services/dispatch.py): outbox batches, retries, leases, retention.
        "DISPATCH_BATCH_SIZE": _env_int("DISPATCH_BATCH_SIZE", 200),
        "DISPATCH_MAX_ATTEMPTS": _env_int("DISPATCH_MAX_ATTEMPTS", 8),
        "DISPATCH_BACKOFF_SECONDS": float(_env("DISPATCH_BACKOFF_SECONDS", "30")),
        "DISPATCH_BACKOFF_MAX_SECONDS": _env_int("DISPATCH_BACKOFF_MAX_SECONDS", 3600),
        "DISPATCH_OUTAGE_DELAY_SECONDS": float(_env("DISPATCH_OUTAGE_DELAY_SECONDS", "30")),
        "DISPATCH_LEASE_SECONDS": _env_int("DISPATCH_LEASE_SECONDS", 120),
        "DISPATCH_TIME_BUDGET_SECONDS": _env_int("DISPATCH_TIME_BUDGET_SECONDS", 45),
        "DISPATCH_COMMIT_EVERY": _env_int("DISPATCH_COMMIT_EVERY", 20),
        "DISPATCH_GIVE_UP_HOURS": _env_int("DISPATCH_GIVE_UP_HOURS", 48),
        "DISPATCH_MAX_AGE_HOURS": _env_int("DISPATCH_MAX_AGE_HOURS", 72),
        "DELIVERY_RETENTION_DAYS": _env_int("DELIVERY_RETENTION_DAYS", 90),
        "SUBSCRIBER_ERASE_AFTER_HOURS": _env_int("SUBSCRIBER_ERASE_AFTER_HOURS", 24),
        "SUBSCRIBER_IMPORT_MAX_LINES": _env_int("SUBSCRIBER_IMPORT_MAX_LINES", 5000),
        "ALERT_PROGRAMME_NAME": _env("ALERT_PROGRAMME_NAME", "Jasmine"),
        # Where the unsubscribe link of alert emails points (must be reachable without login).
        "UNSUBSCRIBE_BASE_URL": _env("UNSUBSCRIBE_BASE_URL"),
        "ALERT_CHECK_URL": _env("ALERT_CHECK_URL"),
        # Where a discreet alert SMS sends her to read the alert (its reference follows).
        "DISCREET_ALERT_URL": _env("DISCREET_ALERT_URL", "https://jasmine.example/a"),
        "REGISTRATION_CODE_MINUTES": _env_int("REGISTRATION_CODE_MINUTES", 10),
        "MAIL_MESSAGE_ID_DOMAIN": _env("MAIL_MESSAGE_ID_DOMAIN"),
        # An email whose end of data got no answer (services/channels.reconcile_email):
        # "brevo" (ask the relay's events API), "assume_sent" (no duplicate) or "resend".
        "MAIL_IN_DOUBT": _env("MAIL_IN_DOUBT", "assume_sent"),
        "MAIL_RECONCILE_URL": _env("MAIL_RECONCILE_URL"),
        "MAIL_RECONCILE_API_KEY": _env("MAIL_RECONCILE_API_KEY"),
        # SMS gateway (services/channels.py): a provider class, its URL and credentials, and
        # for the generic provider the JSON (or form) payload with {to} {text} {reference}
        # {sender} placeholders and the response field holding the provider's message id.
        "SMS_GATEWAY_PROVIDER": _env("SMS_GATEWAY_PROVIDER", "generic"),
        "SMS_GATEWAY_URL": _env("SMS_GATEWAY_URL"),
        "SMS_GATEWAY_USERNAME": _env("SMS_GATEWAY_USERNAME"),
        "SMS_GATEWAY_PASSWORD": _env("SMS_GATEWAY_PASSWORD"),
        "SMS_GATEWAY_TOKEN": _env("SMS_GATEWAY_TOKEN"),
        "SMS_GATEWAY_SENDER": _env("SMS_GATEWAY_SENDER", "Jasmine"),
        "SMS_GATEWAY_FORMAT": _env("SMS_GATEWAY_FORMAT", "json"),
        "SMS_GATEWAY_PAYLOAD": _env(
            "SMS_GATEWAY_PAYLOAD",
            '{"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{reference}"}',
        ),
        "SMS_GATEWAY_ID_FIELD": _env("SMS_GATEWAY_ID_FIELD", "id"),
        "SMS_GATEWAY_TIMEOUT": float(_env("SMS_GATEWAY_TIMEOUT", "10")),
        # twilio / ovh / brevo (services/sms_providers/): the account (OVH service name) and
        # the public base of the receipt and reply webhooks given to the provider.
        "SMS_GATEWAY_ACCOUNT": _env("SMS_GATEWAY_ACCOUNT"),
        "SMS_WEBHOOK_BASE_URL": _env("SMS_WEBHOOK_BASE_URL"),
        # Inbound SMS webhook (STOP): shared secret sent by the gateway in X-Webhook-Secret
        # (or as the HTTP Basic password). Unset: the webhook refuses every call.
        "SMS_INBOUND_SECRET": _env("SMS_INBOUND_SECRET"),
        "SMS_INBOUND_FROM_FIELD": _env("SMS_INBOUND_FROM_FIELD", "from"),
        "SMS_INBOUND_TEXT_FIELD": _env("SMS_INBOUND_TEXT_FIELD", "text"),
        "AUDIT_PAGE_SIZE": 50,
        # Demo accounts exist only in development (``flask demo seed`` refuses elsewhere).
        "DEMO_PASSWORD": _env("DEMO_PASSWORD", None if production else DEFAULT_DEMO_PASSWORD),
        # Outreach rounds: contacts are purged after this many months; a round left open is
        # closed (its clear numbers erased) after this many days; texts' placeholders.
        "OUTREACH_CONTACT_RETENTION_MONTHS": _env_int("OUTREACH_CONTACT_RETENTION_MONTHS", 12),
        "OUTREACH_SESSION_AUTO_CLOSE_DAYS": _env_int("OUTREACH_SESSION_AUTO_CLOSE_DAYS", 7),
        "OUTREACH_BATCH_MAX_LINES": _env_int("OUTREACH_BATCH_MAX_LINES", 500),
        # A number any association contacted in these last days shows "contacted recently".
        "OUTREACH_RECENT_CONTACT_DAYS": _env_int("OUTREACH_RECENT_CONTACT_DAYS", 7),
        "OUTREACH_PROGRAMME_NAME": _env("OUTREACH_PROGRAMME_NAME", "Jasmine"),
        "OUTREACH_REGISTER_URL": _env(
            "OUTREACH_REGISTER_URL", "https://jasmine.example/inscription"
        ),
        "OUTREACH_CHECK_URL": _env("OUTREACH_CHECK_URL", "https://jasmine.example/verifier"),
        # Moderation: how long a claim on a report holds, how long an alert stays live, and
        # the per-client limit of identifier checks (on top of API_RATE_LIMIT).
        "CLAIM_MINUTES": _env_int("CLAIM_MINUTES", 30),
        # Staff notices (services/staff_notices.py): a dangerous report still unclaimed after
        # this many minutes goes to every moderator and the coordinators; a treatment
        # deadline this many hours away with nothing done, again, urgent; rules look back
        # this many hours only.
        "NOTIFY_UNCLAIMED_MINUTES": _env_int("NOTIFY_UNCLAIMED_MINUTES", 30),
        "NOTIFY_DEADLINE_HOURS": _env_int("NOTIFY_DEADLINE_HOURS", 12),
        "NOTIFY_LOOKBACK_HOURS": _env_int("NOTIFY_LOOKBACK_HOURS", 48),
        # A question to the worker or the filing partner left unanswered this many days sends
        # the report back to the queue marked "no answer" (job expire_unanswered_questions).
        "INFORMATION_ANSWER_DAYS": _env_int("INFORMATION_ANSWER_DAYS", 7),
        "ALERT_EXPIRY_MONTHS": _env_int("ALERT_EXPIRY_MONTHS", 12),
        # The check (issue 12, F7): per client and source address without a worker token,
        # per worker with one, and the client's overall budget.
        "API_CHECK_RATE_LIMIT": _env("API_CHECK_RATE_LIMIT", "30 per minute"),
        "API_CHECK_WORKER_RATE_LIMIT": _env("API_CHECK_WORKER_RATE_LIMIT", "60 per hour"),
        "API_CHECK_CLIENT_RATE_LIMIT": _env("API_CHECK_CLIENT_RATE_LIMIT", "6000 per minute"),
        "RATELIMIT_KEY_PREFIX": _env("RATELIMIT_KEY_PREFIX", ""),
        "API_FOLLOW_UP_RATE_LIMIT": _env("API_FOLLOW_UP_RATE_LIMIT", "30 per hour"),
        "CHECK_COUNT_FLUSH_SECONDS": _env_int("CHECK_COUNT_FLUSH_SECONDS", 10),
        "MODERATION_PAGE_SIZE": 50,
        # Directory map background: a tile URL template ({z}/{x}/{y}, optional {s}); its host
        # is allowed in the map page's CSP img-src. Markers and the list work without tiles.
        # The tile server sees staff IP addresses, the areas viewed and this site's origin
        # (sent as Referer, as OpenStreetMap requires): self-host tiles to avoid that.
        "MAP_TILES_URL": _env("MAP_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        "MAP_TILES_ATTRIBUTION": _env(
            "MAP_TILES_ATTRIBUTION",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
            " contributors",
        ),
        # Statistics: counts from 1 to this minus one are shown as "<5" (small-cell
        # suppression, at least 3); the rollup recomputes days changed this long before its
        # last refresh (transactions still open then).
        "STATS_SUPPRESSION_THRESHOLD": _env_int("STATS_SUPPRESSION_THRESHOLD", 5),
        "STATS_REFRESH_MARGIN_MINUTES": _env_int("STATS_REFRESH_MARGIN_MINUTES", 15),
        # Retention of a report's data (services/retention.py), counted from the day it was
        # settled: the victim's contact, the testimony, the exact time of the incident.
        "RETENTION_VICTIM_CONTACT_DAYS": _env_int("RETENTION_VICTIM_CONTACT_DAYS", 90),
        "RETENTION_TESTIMONY_MONTHS": _env_int("RETENTION_TESTIMONY_MONTHS", 12),
        "RETENTION_EXACT_TIME_DAYS": _env_int("RETENTION_EXACT_TIME_DAYS", 30),
        "RETENTION_BATCH_SIZE": _env_int("RETENTION_BATCH_SIZE", 200),
        # Evidence photos and screenshots on a case (services/cases/evidence.py).
        "EVIDENCE_MAX_BYTES": _env_int("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024),
        # A request's body is held in memory (uploads are never spooled to disk): bounded.
        "MAX_CONTENT_LENGTH": _env_int("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024) + 1024 * 1024,
    }


def _message_backends(production: bool) -> dict:
    """Where messages go. Development without an SMTP server or an SMS gateway writes every
    message to ``instance/outbox/`` (one text file each, like Django's file mail backend);
    production always uses the real channels (checked at start-up)."""
    outbox = "outbox" if not production else None
    return {
        "MESSAGE_OUTBOX_DIR": _env("MESSAGE_OUTBOX_DIR", str(INSTANCE_DIR / "outbox")),
        "MAIL_BACKEND": _env("MAIL_BACKEND", "smtp" if _env("SMTP_HOST") else outbox or "smtp"),
        "SMS_BACKEND": _env(
            "SMS_BACKEND",
            "gateway"
            if _env("SMS_GATEWAY_URL") or _env("SMS_GATEWAY_PROVIDER", "generic") != "generic"
            else outbox or "gateway",
        ),
        # The channels workers may choose; production needs a real one configured for each.
        "MESSAGE_CHANNELS": [
            c.strip() for c in (_env("MESSAGE_CHANNELS", "sms,email") or "").split(",") if c
        ],
    }


def _channel_problems(settings: dict) -> list[str]:
    """What production lacks to send on the channels in use (the outbox is development's)."""
    missing = []
    in_use = settings.get("MESSAGE_CHANNELS") or []
    if "email" in in_use and (settings.get("MAIL_BACKEND") != "smtp" or not _env("SMTP_HOST")):
        missing.append("SMTP_HOST (and SMTP_PORT…; MAIL_BACKEND=smtp) for email")
    # The named providers know their own address; the generic template needs one.
    named_provider = settings.get("SMS_GATEWAY_PROVIDER") in ("twilio", "ovh", "brevo")
    if "sms" in in_use and (
        settings.get("SMS_BACKEND") != "gateway"
        or not (settings.get("SMS_GATEWAY_URL") or named_provider)
    ):
        missing.append("SMS_GATEWAY_PROVIDER and its settings (SMS_BACKEND=gateway) for SMS")
    storage = settings.get("RATELIMIT_STORAGE_URI") or "memory://"
    if storage.startswith("memory://"):
        missing.append(
            "RATELIMIT_STORAGE_URI (a store shared by every process, e.g. redis://host:6379/0)"
        )
    return missing


def _require_production_secrets(settings: dict) -> None:
    missing = _channel_problems(settings)
    secret_key = settings.get("SECRET_KEY") or ""
    if len(secret_key) < MIN_SECRET_KEY_LENGTH or secret_key == DEVELOPMENT_SECRET_KEY:
        missing.append(
            f"SECRET_KEY (a random string of at least {MIN_SECRET_KEY_LENGTH} characters, "
            'e.g. python3 -c "import secrets; print(secrets.token_hex(32))")'
        )
    if not _env("DATABASE_URL"):
        missing.append("DATABASE_URL (postgresql+psycopg://user:password@host/database)")
    if not settings.get("PUBLIC_BASE_URL"):
        missing.append("PUBLIC_BASE_URL (https://… the address of this site, used in links)")
    if not settings.get("BACKOFFICE_KEYS") and not settings.get("BACKOFFICE_KEY_FILE"):
        missing.append(
            "BACKOFFICE_KEYS or BACKOFFICE_KEY_FILE (create one with `flask --app wsgi keys "
            "generate`)"
        )
    if missing:
        raise ConfigurationError(
            "Production start-up refused; set these environment variables: " + "; ".join(missing)
        )
