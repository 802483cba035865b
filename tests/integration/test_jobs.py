"""Scheduled jobs run under a database lock: never twice at once, and a crashed holder's
lock is taken over once its time is up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from backoffice import jobs
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.jobs import JobLock

CALLS: list[str] = []


def record_call() -> None:
    CALLS.append("ran")


def test_a_held_lock_stops_a_second_run_and_a_stale_one_is_taken_over(app):
    jobs.register("test_job", "tests.integration.test_jobs:record_call", minutes=5)
    CALLS.clear()
    with app.app_context():
        assert jobs.acquire("test_job", 30)
    assert jobs.run_job(app, "test_job") is False
    assert CALLS == []
    with app.app_context():
        db.session.execute(
            update(JobLock)
            .where(JobLock.name == "test_job")
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        db.session.commit()
    assert jobs.run_job(app, "test_job") is True
    assert CALLS == ["ran"]
    assert jobs.run_job(app, "test_job") is True  # released after the run
    assert CALLS == ["ran", "ran"]
    jobs.JOBS.pop("test_job")


def test_scheduler_holds_every_registered_job(app):
    jobs.register("test_job_2", "tests.integration.test_jobs:record_call", minutes=5)
    scheduler = jobs.build_scheduler(app)
    assert "test_job_2" in {job.id for job in scheduler.get_jobs()}
    jobs.JOBS.pop("test_job_2")
