"""A dropped database connection answers 503 with Retry-After, never 500, and loses nothing.

The app's PostgreSQL backends are terminated (``pg_terminate_backend``) again and again while
clients send reports and staff read pages: every answer is 201 or 503 with Retry-After, every
201 has its report, and retrying the 503s with their idempotency keys stores each report once.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.report import IdempotencyRecord, Report
from tests.api_contract import contract
from tests.conftest import POSTGRES_ADMIN_URL, make_app
from tests.integration.test_intake_api import MINIMAL, URL, auth, new_client

pytestmark = pytest.mark.postgres_only
CLIENTS = 4
# Only the served app's connections are terminated: the other tests' app shares the database.
SERVED = "database-faults-served"
REPORTS_PER_CLIENT = 30


def _terminate_backends(database: str, stop: threading.Event, killed: list[int]) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        while not stop.is_set():
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s AND pid <> pg_backend_pid()",
                (database, SERVED),
            ).fetchall()
            killed.append(len(rows))
            time.sleep(0.03)


def _send(app, key: str, keys: list[str], answers: list) -> None:
    client = app.test_client()
    for idempotency in keys:
        response = client.post(
            URL, json=MINIMAL, headers=auth(key, **{"Idempotency-Key": idempotency})
        )
        answers.append(
            (
                idempotency,
                response.status_code,
                response.headers.get("Retry-After"),
                response.get_json(),
            )
        )


def _read_staff_page(app, stop: threading.Event, answers: list) -> None:
    client = app.test_client()
    while not stop.is_set():
        try:
            response = client.get("/login/")
        except Exception as error:  # propagated (TESTING): a 500 in production
            answers.append(("page", type(error).__name__, None, None))
            continue
        answers.append(("page", response.status_code, response.headers.get("Retry-After"), None))


def test_terminated_backends_give_503_with_retry_after_and_lose_nothing(
    database_url, test_keyring, tmp_path, app
):
    served = make_app(
        database_url,
        test_keyring,
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "connect_args": {"application_name": SERVED},
        },
    )
    _client_id, key = new_client(app)
    keys = [[uuid.uuid4().hex for _ in range(REPORTS_PER_CLIENT)] for _ in range(CLIENTS)]
    answers: list = []
    pages: list = []
    stop, killed = threading.Event(), []
    database = database_url.rsplit("/", 1)[1]
    killer = threading.Thread(target=_terminate_backends, args=(database, stop, killed))
    senders = [threading.Thread(target=_send, args=(served, key, k, answers)) for k in keys]
    reader = threading.Thread(target=_read_staff_page, args=(served, stop, pages))
    contract(served)  # the served document, fetched before the faults start
    killer.start()
    reader.start()
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    stop.set()
    killer.join()
    reader.join()

    assert sum(killed) > 0
    assert len(answers) == CLIENTS * REPORTS_PER_CLIENT  # no thread died
    statuses = {status for _key, status, _retry, _body in answers + pages}
    assert statuses <= {200, 201, 503}, statuses
    assert 503 in statuses  # the faults were seen
    assert all(retry for _key, status, retry, _body in answers + pages if status == 503)
    accepted = {k: body["reference"] for k, status, _retry, body in answers if status == 201}
    with app.app_context():
        stored = set(
            db.session.scalars(
                select(Report.reference).where(Report.reference.in_(accepted.values()))
            )
        )
    assert stored == set(accepted.values())  # no 201 without its row

    # Retrying every refused report with its key stores it once; accepted ones are not doubled.
    client = app.test_client()
    every_key = [k for chunk in keys for k in chunk]
    for idempotency in every_key:
        response = client.post(
            URL, json=MINIMAL, headers=auth(key, **{"Idempotency-Key": idempotency})
        )
        assert response.status_code in (200, 201)
        if idempotency in accepted:
            assert response.get_json()["reference"] == accepted[idempotency]
    with app.app_context():
        remembered = db.session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.key.in_(every_key))
        )
    assert remembered == len(every_key)
