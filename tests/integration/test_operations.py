"""``/healthz`` and ``/metrics``: the checks an operator's monitoring reads, no personal data."""

from __future__ import annotations

import contextlib
import datetime as dt

from backoffice import jobs
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.jobs import JobRun

CALLS: list[str] = []


def heartbeat_job() -> None:
    CALLS.append("ran")


def failing_job() -> None:
    raise RuntimeError("a job that fails, with a message that never reaches the metrics")


def test_healthz_reports_each_check(app, monkeypatch):
    client = app.test_client()
    monkeypatch.setitem(app.config, "HEALTH_OUTBOX_LAG_SECONDS", 10**9)
    with app.app_context():
        db.session.query(JobRun).delete()
        db.session.commit()
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    body = answer.get_json()
    assert body["status"] == "failing"
    assert body["checks"]["database"]["ok"] and body["checks"]["keys"]["ok"]
    assert body["checks"]["scheduler"] == {"ok": False, "last_run_seconds_ago": None}

    jobs.register("heartbeat_job", "tests.integration.test_operations:heartbeat_job", minutes=5)
    try:
        assert jobs.run_job(app, "heartbeat_job")
    finally:
        jobs.JOBS.pop("heartbeat_job")
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["checks"]["scheduler"]["ok"]
    assert "Set-Cookie" not in answer.headers

    monkeypatch.setitem(app.config, "HEALTH_SCHEDULER_MAX_SECONDS", -1)
    assert client.get("/healthz").status_code == 503


def test_outbox_lag_fails_the_check_when_deliveries_wait(app, monkeypatch):
    from backoffice.models.dispatch import Delivery

    with app.app_context():
        late = Delivery(
            purpose="welcome",
            recipient_key="s-lag",
            channel="email",
            language="fr",
            status="queued",
            idempotency_key="lag-" + utcnow().strftime("%f"),
            next_attempt_at=utcnow() - dt.timedelta(hours=3),
        )
        db.session.add(late)
        db.session.commit()
        late_id = late.id
    try:
        monkeypatch.setitem(app.config, "HEALTH_OUTBOX_LAG_SECONDS", 3600)
        checks = app.test_client().get("/healthz").get_json()["checks"]
        assert checks["outbox"]["ok"] is False
        assert checks["outbox"]["lag_seconds"] >= 3 * 3600 - 5
    finally:
        with app.app_context():
            db.session.delete(db.session.get(Delivery, late_id))
            db.session.commit()


def test_metrics_for_prometheus(app, monkeypatch):
    jobs.register("failing_job", "tests.integration.test_operations:failing_job", minutes=5)
    try:
        with contextlib.suppress(RuntimeError):
            jobs.run_job(app, "failing_job")
    finally:
        jobs.JOBS.pop("failing_job")
    client = app.test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    for name in (
        "backoffice_outbox_lag_seconds",
        "backoffice_outbox_deliveries",
        "backoffice_deliveries_failed",
        "backoffice_scheduler_heartbeat_age_seconds",
        'backoffice_job_failures{job="failing_job"}',
    ):
        assert name in text
    assert "never reaches" not in text
    with app.app_context():
        run = db.session.get(JobRun, "failing_job")
        assert (run.failures, run.last_error) == (run.failures, "RuntimeError")
        assert run.failed_at is not None

    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-token")
    assert client.get("/metrics").status_code == 401
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).status_code == 200
    )
