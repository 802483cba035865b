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
        owner = jobs.acquire("test_job", 30)
        assert owner
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


def _lock(app, name: str) -> JobLock | None:
    with app.app_context():
        db.session.expire_all()
        lock = db.session.get(JobLock, name)
        if lock is not None:
            db.session.expunge(lock)
        return lock


def test_only_the_owner_releases_or_renews_a_lock(app):
    with app.app_context():
        first = jobs.acquire("owned_job", 30)
        assert first and jobs.acquire("owned_job", 30) is None
        assert jobs.release("owned_job", "someone:else:token") is False
        assert jobs.renew("owned_job", "someone:else:token", 30) is False
        assert _lock(app, "owned_job").owner == first
        # The first owner's lease runs out; a second process takes the lock over.
        db.session.execute(
            update(JobLock)
            .where(JobLock.name == "owned_job")
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        db.session.commit()
        second = jobs.acquire("owned_job", 30)
        assert second and second != first
        # The first run ends late: it can neither renew nor free the second one's lock.
        assert jobs.renew("owned_job", first, 30) is False
        assert jobs.release("owned_job", first) is False
        assert _lock(app, "owned_job").owner == second
        assert jobs.renew("owned_job", second, 30) is True
        assert jobs.release("owned_job", second) is True
    assert _lock(app, "owned_job") is None


def test_two_acquisitions_by_one_process_are_two_owners(app):
    with app.app_context():
        first = jobs.acquire("twice_job", 30)
        assert jobs.release("twice_job", first)
        second = jobs.acquire("twice_job", 30)
        assert second != first
        assert jobs.release("twice_job", first) is False
        assert jobs.release("twice_job", second) is True


SEEN_EXPIRIES: list = []


def slow_job() -> None:
    """Sleeps past several renewals, noting the lease's expiry as other processes see it."""
    import time

    from flask import current_app

    for _ in range(3):
        with current_app.extensions["test_engine"].connect() as connection:
            SEEN_EXPIRIES.append(
                connection.execute(JobLock.__table__.select().where(JobLock.name == "slow_job"))
                .one()
                .expires_at
            )
        time.sleep(0.6)


def test_a_long_run_renews_its_lease(app, database_url, test_keyring, tmp_path):
    from sqlalchemy import create_engine

    from tests.conftest import make_app

    quick = make_app(database_url, test_keyring, tmp_path, JOB_LEASE_RENEW_SECONDS=0.25)
    quick.extensions["test_engine"] = create_engine(database_url)
    jobs.register("slow_job", "tests.integration.test_jobs:slow_job", minutes=5, max_minutes=1)
    SEEN_EXPIRIES.clear()
    try:
        assert jobs.run_job(quick, "slow_job") is True
    finally:
        jobs.JOBS.pop("slow_job")
        quick.extensions["test_engine"].dispose()
    assert len(SEEN_EXPIRIES) == 3
    assert SEEN_EXPIRIES[0] < SEEN_EXPIRIES[1] < SEEN_EXPIRIES[2]  # renewed while running
    assert _lock(app, "slow_job") is None  # and freed at the end
