"""Intake throughput: POST /api/v1/reports through gunicorn, against PostgreSQL.

Creates its own PostgreSQL database on 127.0.0.1:5432 (``BENCH_POSTGRES_ADMIN_URL`` to
change it), migrates it, creates an API client, starts gunicorn on a free loopback port
(``--workers`` sync workers, 3 by default: the best of 2 to 5 on 2 cores; production
settings), then 8 client threads send varied,
valid reports (identifiers, victim contact, Idempotency-Key on every request) until
``--reports`` were sent or ``--seconds`` elapsed, after a short warm-up. Stops gunicorn and
drops the database.

    .venv/bin/python bench/intake.py [--reports 4000] [--seconds 30] [--clients 8] [--workers 3]

Prints ``intake_reports_per_second: N reports/s``, ``intake_errors: N count`` and
``intake_p95_latency: X ms``. Target: at least 200 reports/s with no error, on 2 cores.
Also prints the CPU time spent per report by gunicorn, PostgreSQL and the load generator:
the rate is CPU-bound, so these say where to look when it drops (and whether other
programs were competing for the two cores: the sum times the rate then stays well under 2).
The API rate limit is raised for the run (one client sends everything); everything else is
as in production: keys checked, body validated, victim details sealed, identifiers sealed
and indexed, audit event, idempotency record, one commit per report.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import support

ROOT = support.ROOT
VIOLENCE = ["theft", "non_payment", "condom_removal", "rape", "physical_assault", "threats"]
DEPARTMENTS = ["75", "93", "13", "69", "31", "33", "59", "67", "44", "2A", "974"]


def _environment(url: str, instance: str) -> dict[str, str]:
    from backoffice.services.crypto import Keyring

    return {
        **os.environ,
        "BACKOFFICE_ENV": "production",
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_hex(32),
        "BACKOFFICE_KEYS": Keyring.generate().to_json(),
        "BACKOFFICE_INSTANCE_DIR": instance,
        "API_RATE_LIMIT": "1000000 per minute",
        "SCHEDULER_ENABLED": "false",
        "FAB_UPDATE_PERMS": "false",
    }


def _prepare(environment: dict[str, str]) -> str:
    """Migrate the database and create an API client (in a child: settings come from env)."""
    script = (
        "from flask_migrate import upgrade\n"
        "from backoffice import create_app\n"
        "from backoffice.extensions import db\n"
        "from backoffice.services import api_keys\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    upgrade(revision='heads')\n"
        "    _client, key = api_keys.create_client('bench')\n"
        "    db.session.commit()\n"
        "    print(key)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return result.stdout.strip().splitlines()[-1]


def _start_gunicorn(environment: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--backlog",
            "256",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        env=environment,
        cwd=ROOT,
        start_new_session=True,
    )


def _wait_ready(port: int, key: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited before it was ready")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request(
                "GET", "/api/v1/openapi.json", headers={"Authorization": f"Bearer {key}"}
            )
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer in time")


def _body(rng: random.Random, number: int) -> bytes:
    phone = f"06{rng.randint(10, 38):02d}{rng.randint(0, 999999):06d}"
    report = {
        "language": "fr",
        "channel": rng.choice(["web", "app"]),
        "incident": {
            "date": f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}",
            "time": "22:30",
            "department": rng.choice(DEPARTMENTS),
            "city": "Ville",
            "context": "indoor_home",
            "violence_types": rng.sample(VIOLENCE, rng.randint(1, 2)),
        },
        "narrative": (
            f"Rapport {number}. Je l'ai rencontré via une annonce. Pendant le rendez-vous il a "
            "retiré le préservatif, puis il est parti avec l'argent. " * rng.randint(1, 6)
        ),
        "aggressor": {
            "description": {"gender": "man", "age_range": "36-45", "height": "tall"},
            "vehicle": {"make": "Renault", "model": "Clio", "plate": "AB-123-CD"},
            "identifiers": [
                {"kind": "phone", "value": phone},
                {"kind": "pseudonym", "value": f"Marc{number}", "platform": "an ad site"},
            ],
        },
        "victim": {
            "pseudonym": "Lila",
            "contact": {"phone": f"07 98 {rng.randint(10, 99)} 54 32"},
            "preferred_language": "pt",
        },
        "consent": {
            "publish_alert": True,
            "follow_up": rng.random() < 0.5,
            "share_with_partner": False,
            "statistics": True,
        },
        "reporter": {"relation": "self"},
    }
    return json.dumps(report).encode("utf-8")


class Load:
    """Client threads sharing a counter of reports to send."""

    def __init__(self, port: int, key: str, total: int, seconds: float, seed: int = 0) -> None:
        self.port, self.key, self.total, self.seconds = port, key, total, seconds
        # Bodies are built before the clock starts: the clients' own CPU time stays small.
        rng = random.Random(seed)
        self.bodies = [_body(rng, number) for number in range(1, total + 1)]
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.accepted = 0

    def _next(self) -> int | None:
        with self.lock:
            if self.sent >= self.total:
                return None
            self.sent += 1
            return self.sent

    def _post(self, body: bytes) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/api/v1/reports",
                body=body,
                headers={
                    "Authorization": f"Bearer {self.key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def client(self, deadline: float) -> None:
        while time.monotonic() < deadline and (number := self._next()) is not None:
            body = self.bodies[number - 1]
            started = time.perf_counter()
            try:
                status = self._post(body)
            except OSError:
                status = 0
            elapsed = time.perf_counter() - started
            with self.lock:
                self.latencies.append(elapsed)
                if status == 201:
                    self.accepted += 1
                else:
                    self.errors += 1

    def run(self, clients: int) -> float:
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self.client, args=(deadline,)) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc), in seconds."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _server_pids(gunicorn: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{gunicorn.pid}/task/{gunicorn.pid}/children")
    return [gunicorn.pid, *map(int, children.read_text().split())]


def _database_pids(url: str) -> list[int]:
    """The PostgreSQL backends serving the bench database (not this query's own)."""
    with support.connect(url) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=200)
    options = parser.parse_args()

    with support.temporary_database("bench_intake") as url:
        process = None
        try:
            environment = _environment(url, support.instance_dir())
            key = _prepare(environment)
            port = support.free_port()
            process = _start_gunicorn(environment, port, options.workers)
            _wait_ready(port, key, process)
            Load(port, key, options.warm_up, 30, seed=1).run(options.clients)  # warm-up
            load = Load(port, key, options.reports, options.seconds, seed=2)
            app_pids, db_pids = _server_pids(process), _database_pids(url)
            app_cpu, db_cpu = _cpu_seconds(app_pids), _cpu_seconds(db_pids)
            client_cpu = time.process_time()
            elapsed = load.run(options.clients)
            client_cpu = time.process_time() - client_cpu
            app_cpu = _cpu_seconds(app_pids) - app_cpu
            db_cpu = _cpu_seconds(db_pids) - db_cpu
        finally:
            _stop(process)
        p95 = support.percentile(load.latencies, 95) * 1000
        support.report("intake_reports_per_second", load.accepted / elapsed, "reports/s", digits=0)
        support.report("intake_errors", load.errors, "count")
        support.report("intake_p95_latency", p95, "ms")
        # Where the machine's time goes, per accepted report (gunicorn, PostgreSQL, the
        # load generator itself): on 2 cores, 10 ms in all caps the rate at 200 reports/s.
        accepted = max(load.accepted, 1)
        support.report("intake_app_cpu_per_report", app_cpu / accepted * 1000, "ms")
        support.report("intake_db_cpu_per_report", db_cpu / accepted * 1000, "ms")
        support.report("intake_client_cpu_per_report", client_cpu / accepted * 1000, "ms")


if __name__ == "__main__":
    main()
