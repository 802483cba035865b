"""Issue 12, F7: one abuser cannot deny the identifier check to every worker.

Served by gunicorn with 4 worker processes on loopback, counting in Redis (the store every
process shares; ``make test`` starts one): 200 workers checking at once through one client
key are all served, while one worker token hammering the check gets 429 alone; without a
token, one source address (behind the trusted proxy) is limited alone too.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from backoffice.extensions import db
from backoffice.services import api_keys
from tests.integration.dispatch_support import free_port
from tests.integration.test_worker_api import new_worker

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("RATELIMIT_STORAGE_URI") or "redis://127.0.0.1:6379/0"
WORKERS = 200
WORKER_LIMIT = 5


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def served(app, database_url, test_keyring, tmp_path_factory):
    if not REDIS_URL.startswith("redis") or not _redis_answers(REDIS_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is mandatory in CI and did not answer at {REDIS_URL}")
        pytest.skip(f"no Redis answered at {REDIS_URL} (make test starts one)")
    with app.app_context():
        _client, key = api_keys.create_client(f"fair-check-{uuid.uuid4().hex[:8]}")
        tokens = [new_worker()[1] for _ in range(WORKERS + 1)]
        db.session.commit()
    port = free_port()
    env = os.environ | {
        "BACKOFFICE_ENV": "development",
        "DATABASE_URL": database_url,
        "BACKOFFICE_KEYS": test_keyring.to_json(),
        "BACKOFFICE_INSTANCE_DIR": str(tmp_path_factory.mktemp("gunicorn")),
        "SECRET_KEY": secrets.token_hex(16),
        "FAB_UPDATE_PERMS": "false",
        "SCHEDULER_ENABLED": "false",
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"fair-{uuid.uuid4().hex[:12]}:",
        "API_CHECK_WORKER_RATE_LIMIT": f"{WORKER_LIMIT} per hour",
        "API_CHECK_RATE_LIMIT": "5 per minute",
        "PROXY_FIX_HOPS": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-w", "4", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        _wait_until_up(base, key, process)
        yield base, key, tokens
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base: str, key: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn stopped")
        try:
            answer = requests.get(
                f"{base}/openapi.json", headers={"Authorization": f"Bearer {key}"}, timeout=2
            )
            if answer.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer in time")


def _check(base: str, key: str, *, token: str | None = None, address: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    if token:
        headers["X-Worker-Token"] = token
    if address:
        headers["X-Forwarded-For"] = address
    answer = requests.post(
        f"{base}/check", json={"value": "06 12 34 56 78"}, headers=headers, timeout=30
    )
    if answer.status_code == 429:
        assert int(answer.headers["Retry-After"]) >= 1
    return answer.status_code


def test_200_workers_are_served_while_one_token_hammering_gets_429_alone(served):
    base, key, tokens = served
    abuser, workers = tokens[0], tokens[1:]
    with ThreadPoolExecutor(max_workers=16) as pool:
        hammering = pool.submit(lambda: [_check(base, key, token=abuser) for _ in range(30)])
        statuses = list(pool.map(lambda token: _check(base, key, token=token), workers))
        abused = hammering.result()
    assert statuses == [200] * WORKERS
    assert abused[:WORKER_LIMIT] == [200] * WORKER_LIMIT
    assert set(abused[WORKER_LIMIT:]) == {429}
    # The four processes count together: the abuser stays refused by every one of them.
    assert {_check(base, key, token=abuser) for _ in range(8)} == {429}
    assert _check(base, key, token=workers[0]) == 200


def test_without_a_token_one_address_is_limited_alone(served):
    base, key, _tokens = served
    hammering = [_check(base, key, address="203.0.113.7") for _ in range(12)]
    assert hammering[:5] == [200] * 5 and set(hammering[5:]) == {429}
    assert _check(base, key, address="203.0.113.8") == 200


def test_a_token_that_is_not_hers_is_refused(served):
    base, key, _tokens = served
    assert _check(base, key, token="wt_" + secrets.token_urlsafe(32)) == 401
