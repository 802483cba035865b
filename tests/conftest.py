"""Shared fixtures.

The database backend comes from ``TEST_DATABASE`` (``sqlite``, the default, or
``postgresql``). Each session creates its own database — a file in a temporary folder, or a
fresh PostgreSQL database dropped at the end — and builds the schema with the Alembic
migrations, as production does. Tests that need no database live in ``tests/unit`` and
import nothing from here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import uuid
from collections.abc import Iterator

import pytest

# The application is production by default (config.py); the tests run it as development
# (the tests of production's refusals set it themselves).
os.environ["BACKOFFICE_ENV"] = "development"

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def backend() -> str:
    return os.environ.get("TEST_DATABASE", "sqlite")


def pytest_runtest_setup(item) -> None:
    """``@pytest.mark.postgres_only``: the test needs PostgreSQL (a trigger, a lock…)."""
    if item.get_closest_marker("postgres_only") and backend() != "postgresql":
        pytest.skip("needs PostgreSQL; this run is on SQLite")


def _postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def own_database(folder) -> Iterator[str]:
    """The URL of a new empty database of the run's backend, dropped on the way out.

    SQLite: a file in ``folder``. PostgreSQL: a database of its own, or a skip (a failure
    in CI) when no server answers.
    """
    if backend() == "sqlite":
        yield f"sqlite:///{folder / 'test.sqlite'}"
        return
    import psycopg

    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is mandatory in CI and did not answer at 127.0.0.1:5432")
        pytest.skip("PostgreSQL did not answer at 127.0.0.1:5432: PostgreSQL run skipped")
    name = f"backoffice_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        from backoffice.extensions import db

        with contextlib.suppress(RuntimeError):
            db.session.remove()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    with own_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def test_keyring():
    from backoffice.services.crypto import Keyring

    return Keyring.generate()


@contextlib.contextmanager
def new_root_key(app_context) -> Iterator:
    """A new active root key for the block (the test rotates to it); afterwards everything is
    re-sealed under the session keyring again, for the other tests."""
    from backoffice.extensions import db
    from backoffice.services.crypto import Keyring
    from backoffice.services.key_rotation import rotate

    old_keyring = app_context.extensions["keyring"]
    new_keyring = old_keyring.with_new_active_key()
    app_context.extensions["keyring"] = new_keyring
    try:
        yield new_keyring
    finally:
        back = Keyring(
            root_keys=dict(new_keyring.root_keys),
            active_id=old_keyring.active_id,
            index_key=old_keyring.index_key,
        )
        app_context.extensions["keyring"] = back
        rotate(back, settle_seconds=0)
        db.session.commit()
        app_context.extensions["keyring"] = old_keyring


def make_app(database_url: str, keyring, instance_dir, **overrides):
    from backoffice import create_app

    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BACKOFFICE_KEYS": keyring.to_json(),
        "BACKOFFICE_KEY_FILE": None,
        "INSTANCE_DIR": str(instance_dir),
        "TESTING": True,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": secrets.token_hex(16),
        "SERVER_NAME": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Tests assert messages in English, the msgid language; French, the product's
        # default, is checked where it matters (tests that switch with /lang/fr) and by the
        # catalogue test.
        "BABEL_DEFAULT_LOCALE": "en",
        # The shared app signs in with the password alone, so that every test may sign in
        # as a demo user many times a minute (a TOTP code works once). The second factor,
        # mandatory by default, is tested on an app with the default setting
        # (tests/integration/test_second_factor.py).
        "SECOND_FACTOR_REQUIRED_ROLES": (),
        # The real channels, as the dispatch tests expect; outbox tests switch to "outbox".
        "MAIL_BACKEND": "smtp",
        "SMS_BACKEND": "gateway",
        "MESSAGE_OUTBOX_DIR": str(instance_dir / "outbox"),
        # Limits may live in a shared Redis (make test): each app counts under its own keys.
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}:",
    }
    settings.update(overrides)
    application = create_app(settings)
    # Every answer of the API, in every test, is checked against the served OpenAPI document.
    from tests.api_contract import ContractClient

    application.test_client_class = ContractClient
    return application


@pytest.fixture(scope="session")
def app(database_url, test_keyring, tmp_path_factory):
    """The application on a migrated database with roles, organisations and demo users."""
    from flask_migrate import upgrade

    instance = tmp_path_factory.mktemp("instance")
    application = make_app(database_url, test_keyring, instance)
    with application.app_context():
        upgrade(revision="heads")
    # A second app, as after a deployment: it sees the schema and syncs permissions.
    application = make_app(database_url, test_keyring, instance)
    with application.app_context():
        from backoffice.demo import seed_base
        from backoffice.transactions import unit_of_work

        with unit_of_work():
            seed_base()
    return application


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield app
        from backoffice.extensions import db

        db.session.rollback()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, url: str) -> str:
    page = client.get(url)
    match = _CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} (status {page.status_code})"
    return match.group(1)


def login(client, username: str, password: str | None = None):
    password = password or "demo-jasmine-2026"
    data = {"username": username, "password": password}
    if client.application.config.get("WTF_CSRF_ENABLED", True):
        data["csrf_token"] = csrf_token(client, "/login/")
    return client.post("/login/", data=data, follow_redirects=False)


@pytest.fixture
def login_as(app):
    """``login_as("demo-moderator")`` gives a logged-in test client."""

    def _login(username: str):
        client = app.test_client()
        response = login(client, username)
        assert response.status_code == 302, f"login of {username} failed"
        assert "/login" not in response.headers.get("Location", "")
        return client

    return _login
