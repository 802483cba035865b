"""Scheduled jobs (APScheduler 3).

Each area declares its jobs in ``JOBS`` (name -> import path of a function taking no
argument, and its trigger). ``run_job`` runs one inside an application context, holding a
lock row in the database so that two processes — two application workers, or the app and
the stand-alone scheduler — never run the same job at the same time.

``make run`` runs the scheduler in-process (``SCHEDULER_ENABLED=true``); production runs it
as its own process with ``flask --app wsgi scheduler run``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import logging
import os
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.jobs import JobLock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    target: str  # "package.module:function"
    trigger: dict = field(default_factory=dict)  # APScheduler trigger arguments
    max_minutes: int = 30  # a lock older than this is considered abandoned (crashed run)


JOBS: dict[str, JobSpec] = {}


def register(
    name: str, target: str, trigger: str = "interval", max_minutes: int = 30, **trigger_args
) -> None:
    """Declare a job: ``register("expire_alerts", "pkg.mod:func", "cron", hour=3)``."""
    JOBS[name] = JobSpec(
        target=target, trigger={"trigger": trigger, **trigger_args}, max_minutes=max_minutes
    )


def _function(spec: JobSpec):
    module_name, _, attribute = spec.target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def acquire(name: str, max_minutes: int) -> bool:
    """Take the job's lock; False when another live process holds it."""
    now = utcnow()
    owner = f"{os.getpid()}"
    expires = now + dt.timedelta(minutes=max_minutes)
    try:
        db.session.execute(insert(JobLock).values(name=name, owner=owner, expires_at=expires))
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
    # Taken: steal it only if the holder's time is up (it crashed or hung).
    result = db.session.execute(
        update(JobLock)
        .where(JobLock.name == name, JobLock.expires_at < now)
        .values(owner=owner, expires_at=expires)
    )
    db.session.commit()
    return result.rowcount == 1


def release(name: str) -> None:
    db.session.execute(delete(JobLock).where(JobLock.name == name))
    db.session.commit()


def run_job(app: Flask, name: str) -> bool:
    """Run one job now, under its lock. Returns False when it was already running."""
    spec = JOBS[name]
    with app.app_context():
        if not acquire(name, spec.max_minutes):
            log.info("Job %s is already running elsewhere", name)
            return False
        try:
            _function(spec)()
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("Job %s failed", name)
            raise
        finally:
            release(name)
            db.session.remove()
    return True


def build_scheduler(app: Flask, blocking: bool = False):
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for name, spec in JOBS.items():
        scheduler.add_job(
            _safe_run,
            args=(app, name),
            id=name,
            name=name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
            **spec.trigger,
        )
    return scheduler


def _safe_run(app: Flask, name: str) -> None:
    # run_job logged the failure; the scheduler must keep running the other jobs.
    with contextlib.suppress(Exception):
        run_job(app, name)


def start_in_process(app: Flask) -> None:
    """Start the background scheduler in this serving process (``make run``)."""
    if "scheduler" in app.extensions:
        return
    scheduler = build_scheduler(app)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
