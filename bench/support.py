"""What the benchmarks of this folder share; not a benchmark itself (run directly, it does nothing).

Importing it puts the repository root on ``sys.path``, so that a bench run from the root as
``.venv/bin/python bench/<name>.py`` imports ``backoffice``, ``config``, ``tests``… Then:

* ``temporary_database(prefix)``: a fresh PostgreSQL database on ``BENCH_POSTGRES_ADMIN_URL``
  (default ``postgresql://postgres@127.0.0.1:5432/postgres``), dropped ``WITH (FORCE)`` on the
  way out, after an error, Ctrl-C or SIGTERM too;
* ``migrated_app(url, …)``: the application on it, schema migrated, with a fresh keyring;
  ``bench_app`` for a further application with the same keys; ``signed_in(app, username)``;
* ``connect`` and ``copy_rows``: psycopg for bulk loads;
* ``measure``, ``percentile``, ``report`` and ``report_timings``: timings in milliseconds and
  the ``name: value unit`` lines every bench prints.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Benchmarks run development apps (demo users) unless a script says production itself.
os.environ.setdefault("BACKOFFICE_ENV", "development")

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

_apps: list[Any] = []  # every application bench_app made, closed before its database is dropped
_instance: list[str] = []  # one instance folder for the run, removed at exit


def psycopg_url(url: str) -> str:
    """``url`` as libpq reads it (SQLAlchemy's ``postgresql+psycopg://`` spelling accepted)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: str, **options):
    """A psycopg connection to ``url`` (either spelling), e.g. for ``copy_rows``."""
    import psycopg

    return psycopg.connect(psycopg_url(url), **options)


@contextlib.contextmanager
def temporary_database(prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A new empty database named ``<prefix>_<random>``; yields its SQLAlchemy URL.

    On the way out — normal end, exception, Ctrl-C, or SIGTERM (turned into ``SystemExit`` while
    inside) — the applications made on it are closed and it is dropped ``WITH (FORCE)`` (other
    processes' connections do not block that), with Ctrl-C and SIGTERM held off until the drop
    is done. ``keep=True`` leaves it in place (the caller says so and prints the URL).
    """
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_url(ADMIN_URL)
    url = admin.set(drivername="postgresql+psycopg", database=name)
    url = url.render_as_string(hide_password=False)
    with _sigterm_raises():
        try:
            with connect(ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            yield url
        finally:
            if not keep:
                with _signals_held():
                    _close_apps(url)
                    with connect(ADMIN_URL, autocommit=True, connect_timeout=10) as connection:
                        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises ``SystemExit(143)`` inside, so that ``finally`` blocks run (main thread)."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, _frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (a second Ctrl-C cannot stop a drop)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _close_apps(url: str) -> None:
    from backoffice.extensions import db

    for app in [a for a in _apps if a.config["SQLALCHEMY_DATABASE_URI"] == url]:
        _apps.remove(app)
        with contextlib.suppress(Exception), app.app_context():
            db.session.remove()
            db.engine.dispose()


def instance_dir() -> str:
    """The run's instance folder (``INSTANCE_DIR``): one per process, removed at exit."""
    if not _instance:
        _instance.append(tempfile.mkdtemp(prefix="bench_instance_"))
        atexit.register(shutil.rmtree, _instance[0], ignore_errors=True)
    return _instance[0]


def bench_app(url: str, keys: str | None = None, **overrides):
    """``create_app`` on ``url``: given keys (a keyring's JSON) or fresh ones, no rate limit."""
    from backoffice import create_app
    from backoffice.services.crypto import Keyring

    settings = {
        "SQLALCHEMY_DATABASE_URI": url,
        "BACKOFFICE_KEYS": keys or Keyring.generate().to_json(),
        "BACKOFFICE_KEY_FILE": None,
        "INSTANCE_DIR": instance_dir(),
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": secrets.token_hex(16),
        # Benchmarks sign demo users in with the password alone (the second factor is
        # tested in tests/integration/test_second_factor.py, not measured here).
        "SECOND_FACTOR_REQUIRED_ROLES": (),
        **overrides,
    }
    app = create_app(settings)
    _apps.append(app)
    return app


def migrated_app(url: str, *, seed: bool = False, **overrides):
    """The application on a migrated ``url`` (``upgrade(revision="heads")``), fresh keys.

    It is built a second time once the schema exists, which syncs roles and permissions unless
    ``FAB_UPDATE_PERMS=False`` is among ``overrides``; ``seed=True`` adds the demo
    organisations and users (``seed_base``). Its keys: ``app.config["BACKOFFICE_KEYS"]``.
    """
    from flask_migrate import upgrade

    from backoffice.services.crypto import Keyring

    keys = Keyring.generate().to_json()
    with bench_app(url, keys, **overrides).app_context():
        upgrade(revision="heads")
    app = bench_app(url, keys, **overrides)
    if seed:
        from backoffice.demo import seed_base
        from backoffice.transactions import unit_of_work

        with app.app_context(), unit_of_work():
            seed_base()
    return app


def signed_in(app, username: str):
    """A test client of ``app`` signed in as the demo user ``username``."""
    client = app.test_client()
    response = client.post(
        "/login/", data={"username": username, "password": app.config["DEMO_PASSWORD"]}
    )
    assert response.status_code == 302, f"login as {username} failed"
    return client


def copy_rows(connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """``COPY table (columns) FROM STDIN`` of ``rows`` (None is NULL); returns the row count.

    Rows stream as they come: a generator is not held in memory. No commit.
    """
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(
    func: Callable[[], Any],
    runs: int,
    *,
    warm_up: int = 0,
    after: Callable[[Any], object] | None = None,
) -> list[float]:
    """Milliseconds taken by each of ``runs`` calls of ``func``, after ``warm_up`` untimed ones.

    ``after(result)`` follows every call (warm-up too), outside the timing: checks, rollback.
    """
    timings = []
    for number in range(warm_up + runs):
        start = time.perf_counter()
        result = func()
        elapsed = (time.perf_counter() - start) * 1000
        if after is not None:
            after(result)
        if number >= warm_up:
            timings.append(elapsed)
    return timings


def time_get(client, url: str, runs: int, *, warm_up: int = 0, contains: str = "") -> list[float]:
    """``measure`` of ``client.get(url)``; every answer must be a 200 containing ``contains``."""

    def check(response) -> None:
        assert response.status_code == 200, f"{url}: {response.status_code}"
        assert contains in response.get_data(as_text=True), f"{url}: no {contains!r}"

    return measure(lambda: client.get(url), runs, warm_up=warm_up, after=check)


def percentile(values: Sequence[float], p: int) -> float:
    """The ``p``-th percentile (1 to 99), as ``statistics.quantiles(values, n=100)[p - 1]``.

    So ``percentile(values, 95)`` is ``statistics.quantiles(values, n=20)[-1]``. One value is
    its own percentile; none gives NaN.
    """
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[p - 1]


def report(name: str, value: object, unit: str = "", *, digits: int = 1) -> None:
    """Print ``name: value unit`` (a float with ``digits`` decimals), flushed at once."""
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    print(f"{name}: {text} {unit}".rstrip(), flush=True)


def report_timings(name: str, timings: Sequence[float], unit: str = "ms", digits: int = 1) -> None:
    """``name_median`` and ``name_p95`` lines."""
    report(f"{name}_median", statistics.median(timings), unit, digits=digits)
    report(f"{name}_p95", percentile(timings, 95), unit, digits=digits)


if __name__ == "__main__":
    # ``make bench`` runs every bench/*.py, this file too: nothing to measure here.
    sys.exit(0)
