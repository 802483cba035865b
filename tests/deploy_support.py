"""What the production-recipe test and ``bench/memory.py`` share: the environment template's
settings, the units' ``ExecStart`` lines, and processes of the installation.

``python -m tests.deploy_support publish <email> <phone>`` (run with the installation's
environment) creates a partner association, two subscribers and a published alert whose
dispatch is requested, and prints the alert's reference; ``… receipt <message id>`` prints
the receipt status of the SMS delivery with that provider id.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PUBLIC = "https://backoffice.test"


def template_settings() -> dict[str, str]:
    """The uncommented lines of deploy/backoffice.env.example."""
    settings = {}
    for line in (DEPLOY / "backoffice.env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            settings[name] = value
    return settings


def exec_start(unit: str, port: int) -> list[str]:
    """The unit's ExecStart, in this checkout and on ``port``."""
    line = next(
        line for line in (DEPLOY / unit).read_text().splitlines() if line.startswith("ExecStart=")
    )
    command = line.removeprefix("ExecStart=").replace("/opt/backoffice", str(ROOT))
    return shlex.split(command.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))


def flask(env: dict, *args: str, timeout: int = 300) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(done.stderr[-3000:])
    return done.stdout


def helper(env: dict, *args: str) -> str:
    """This module's command line, run as a process of the installation."""
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "tests.deploy_support", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1]


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    # Its own process group, like the unit's control group: stopping it stops every child.
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def redis_store() -> Iterator[str]:
    """A Redis for the shared rate-limit store: the machine's, or one started for the run."""
    if _answers(6379):
        yield "redis://127.0.0.1:6379/15"
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(port), 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def production_environment(
    url: str, folder: Path, smtp_port: int, redis_url: str, sms=None
) -> dict:
    """The template's settings, with loopback addresses and this test's database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMS_", "SMTP_", "MAIL_", "DISPATCH_", "TEST_"))
    }
    env.update(template_settings())
    env.update(
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=url,
        BACKOFFICE_KEY_FILE=str(folder / "keys.json"),
        BACKOFFICE_INSTANCE_DIR=str(folder),
        PUBLIC_BASE_URL=PUBLIC,
        SAFE_REDIRECT_HOSTS="backoffice.test",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_USE_TLS="false",
        SMTP_USERNAME="",
        SMTP_PASSWORD="",
        SMS_INBOUND_SECRET=secrets.token_urlsafe(16),
        WEB_WORKERS="2",
        PYTHONPATH=str(ROOT),
    )
    if sms is not None:
        env.update(
            SMS_GATEWAY_PROVIDER="twilio",
            SMS_GATEWAY_URL=sms.base,
            SMS_GATEWAY_USERNAME=sms.sid,
            SMS_GATEWAY_PASSWORD=sms.token,
        )
    env["RATELIMIT_STORAGE_URI"] = redis_url
    return env


def first_install(env: dict) -> None:
    """README "Production", in production mode."""
    assert "Key file written" in flask(env, "keys", "generate")
    flask(env, "db", "upgrade", "heads")
    flask(env, "roles", "sync")


def _publish(email: str, phone: str) -> str:
    from backoffice.extensions import db
    from backoffice.models.base import utcnow
    from backoffice.models.organisation import Organisation
    from backoffice.services import organisations, subscribers
    from tests.integration.dispatch_support import make_alert

    association = Organisation(name="Association du test", kind="community", departments=["44"])
    db.session.add(association)
    db.session.flush()
    organisations.created(association)
    for contact in ({"email": email}, {"phone": phone}):
        data = {"pseudonym": "Deploy", "language": "fr", "departments": "44", **contact}
        subscribers.register(data, association.id, validate_now=True)
    alert = make_alert(["44"], dispatch_requested_at=utcnow())
    db.session.commit()
    return alert.reference


def _receipt(message_id: str) -> str:
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models.dispatch import Delivery

    statement = select(Delivery.receipt_status).where(Delivery.provider_message_id == message_id)
    return str(db.session.scalar(statement))


def main(args: list[str]) -> None:
    from wsgi import app

    with app.app_context():
        if args[0] == "publish":
            print(_publish(args[1], args[2]))
        elif args[0] == "receipt":
            print(_receipt(args[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
