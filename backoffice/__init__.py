"""The staff back office: a Flask-AppBuilder application built by ``create_app``."""

from __future__ import annotations

import logging
import re
import secrets
import sys
from pathlib import Path

from flask import Flask, g, has_request_context, request
from flask_appbuilder import AppBuilder
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from backoffice.extensions import csrf, db, migrate
from backoffice.views.uploads import InMemoryUploadsRequest
from config import ConfigurationError, build_config

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# FAB warns on every Time column it cannot filter on (at every start, for every view): the
# columns are excluded from searches anyway, so the warning is noise.
logging.getLogger("flask_appbuilder.models.filters").setLevel(logging.ERROR)


def _redirect_was_asked(record: logging.LogRecord) -> bool:
    """FAB reports an "invalid redirect" on every sign-in without a ``next`` (it checks "");
    only a ``next`` actually given and refused is worth a warning."""
    if not record.getMessage().startswith("Invalid redirect"):
        return True
    return not has_request_context() or bool(request.args.get("next"))


logging.getLogger("flask_appbuilder.utils.base").addFilter(_redirect_was_asked)

_QUERY_STRING = re.compile(r"\?[^\s\"]*")


def without_query_strings(record: logging.LogRecord) -> bool:
    """The development server logs each request line: its query string may carry a sign-in
    link's token or a searched number, so only the path is kept ("GET /invitation/?… HTTP")."""
    if isinstance(record.args, tuple):
        record.args = tuple(
            _QUERY_STRING.sub("?…", arg) if isinstance(arg, str) else arg for arg in record.args
        )
    return True


logging.getLogger("werkzeug").addFilter(without_query_strings)


def create_app(overrides: dict | None = None) -> Flask:
    settings = build_config(overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_DIR"])
    app.request_class = InMemoryUploadsRequest  # uploads never spooled to disk in clear
    app.config.update(settings)
    # A database error's message never carries the values it was given (a name, a phone
    # number): whatever logs or shows it — a job's traceback, an error page — sees the SQL only.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
        "hide_parameters": True,
    }
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    _load_keyring(app)
    import backoffice.models  # noqa: F401 - registers every table on the metadata

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)

    with app.app_context():
        if not _schema_exists():
            # A fresh database: FAB must not write permissions before migrations ran.
            app.config["FAB_UPDATE_PERMS"] = False
        elif app.config["FAB_UPDATE_PERMS"]:
            _ensure_superuser_role(app)
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        from backoffice.views import register_views

        register_views(appbuilder)
        if app.config["FAB_UPDATE_PERMS"]:
            from backoffice.security import sync_roles
            from backoffice.transactions import unit_of_work

            with unit_of_work():
                sync_roles(appbuilder)

    _install_request_hooks(app)
    _install_error_pages(app)
    from backoffice.views import formatting

    formatting.install(app)
    from backoffice.views import stock_screens

    stock_screens.install(app)
    from backoffice.cli import register_commands

    register_commands(app)
    if app.config["SCHEDULER_ENABLED"]:
        from backoffice.jobs import start_in_process

        start_in_process(app)
    return app


def _load_keyring(app: Flask) -> None:
    from backoffice.services.crypto import Keyring, KeyringError

    try:
        app.extensions["keyring"] = Keyring.from_config(app.config)
    except KeyringError as error:
        if app.config["BACKOFFICE_ENV"] == "production" and not _creating_keys():
            raise ConfigurationError(str(error)) from None
        log.warning("No key material yet: %s", error)


def _creating_keys() -> bool:
    """``flask --app wsgi keys generate``: the one command that may start without keys (a
    first installation creates them with it); the web server and the worker never can."""
    args = sys.argv[1:]
    return any(args[i : i + 2] == ["keys", "generate"] for i in range(len(args)))


def _ensure_superuser_role(app: Flask) -> None:
    """FAB grants every new permission to its admin role while views register; that role
    must exist by then (security.py explains why nobody holds it)."""
    from flask_appbuilder.security.sqla.models import Role
    from sqlalchemy import select

    from backoffice.transactions import unit_of_work

    name = app.config["AUTH_ROLE_ADMIN"]
    with unit_of_work():
        if db.session.scalar(select(Role.id).where(Role.name == name)) is None:
            db.session.add(Role(name=name))


def _schema_exists() -> bool:
    return inspect(db.engine).has_table("ab_permission_view")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        # secure_delete overwrites deleted content, so erased data does not linger in pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _install_request_hooks(app: Flask) -> None:
    from backoffice import transactions
    from backoffice.security import enforce_absolute_timeout
    from backoffice.views.arguments import refuse_malformed_list_arguments

    @app.before_request
    def _before() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)
        enforce_absolute_timeout()
        refuse_malformed_list_arguments()

    # A global, not a context variable: FAB's macros import baselib without context.
    app.jinja_env.globals["csp_nonce"] = lambda: g.get("csp_nonce", "")

    @app.after_request
    def _headers(response):
        _security_headers(app, response)
        return response

    # Registered last, so it runs first: a failed commit's error page still gets the headers.
    transactions.install(app)


def _security_headers(app: Flask, response) -> None:
    nonce = g.get("csp_nonce", "")
    img_src = "'self' data:"
    if g.get("allow_map_tiles"):
        # The directory's map page (and only it) may load background tiles from the host of
        # the configured MAP_TILES_URL; every other page keeps images to this site.
        from backoffice.services.directory import tiles_csp_source

        img_src += " " + (tiles_csp_source(app.config.get("MAP_TILES_URL")) or "")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        f"img-src {img_src.strip()}; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "geolocation=(), camera=(), microphone=()"
    if app.config["HSTS_ENABLED"]:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


def _install_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import NotFound

    from backoffice.security import OutOfScope
    from backoffice.views.api import SERVICE_UNAVAILABLE
    from backoffice.views.errors import database_unavailable, render_error

    for unavailable in SERVICE_UNAVAILABLE:  # 503 with Retry-After, never a 500
        app.register_error_handler(unavailable, database_unavailable)
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, render_error)
    app.register_error_handler(CSRFError, render_error)
    # A row outside the actor's organisation answers exactly like a row that does not exist.
    app.register_error_handler(OutOfScope, lambda _error: render_error(NotFound()))
