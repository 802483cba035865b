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
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context
from sqlalchemy import delete, event, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.jobs import JobLock, JobRun
from backoffice.services import dispatch, staff_notices
from backoffice.transactions import unit_of_work
from reports_pdf.alert_sheet import build_alert_sheet

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


def dispatch_deliveries() -> None:
    """Send due deliveries; partners' emails carry the printable sheet, which the PDF
    package builds (the dispatch rules never import it)."""
    dispatch.dispatch_due(partner_sheet=build_alert_sheet)


def _function(spec: JobSpec):
    module_name, _, attribute = spec.target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def new_owner_token() -> str:
    """Who holds a lock: this host and process, and a random part unique to the acquisition
    (a process that re-acquires after losing its lock is a new owner)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


def acquire(name: str, max_minutes: int) -> str | None:
    """Take the job's lock (committed at once). Returns the owner token that alone may renew
    and release it, or None when another live owner holds it."""
    now = utcnow()
    owner = new_owner_token()
    expires = now + dt.timedelta(minutes=max_minutes)
    try:
        with unit_of_work():
            db.session.execute(insert(JobLock).values(name=name, owner=owner, expires_at=expires))
        return owner
    except IntegrityError:
        pass
    # Taken: steal it only if the holder's time is up (it crashed or hung).
    with unit_of_work():
        result = db.session.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.expires_at < now)
            .values(owner=owner, expires_at=expires)
        )
    return owner if result.rowcount == 1 else None


def renew(name: str, owner: str, max_minutes: int, engine=None) -> bool:
    """Extend the lease of a lock this owner holds; False when it is no longer theirs (it
    expired and another process took it over). Runs on its own connection, so a job's open
    transaction does not delay it."""
    statement = (
        update(JobLock)
        .where(JobLock.name == name, JobLock.owner == owner)
        .values(expires_at=utcnow() + dt.timedelta(minutes=max_minutes))
    )
    with (engine or db.engine).begin() as connection:
        return connection.execute(statement).rowcount == 1


def release(name: str, owner: str) -> bool:
    """Free the lock if this owner still holds it; a lock taken over by another process
    after this one's lease ran out stays with its new owner."""
    with unit_of_work():
        result = db.session.execute(
            delete(JobLock).where(JobLock.name == name, JobLock.owner == owner)
        )
    if result.rowcount != 1:
        log.error("Job %s: lock was no longer held by this run at its end (lease lost)", name)
    return result.rowcount == 1


class Lease:
    """Keeps renewing a held lock while its job runs, every third of its lease (at most
    ``JOB_LEASE_RENEW_SECONDS``), so a long run is never taken for a crashed one."""

    def __init__(self, app: Flask, name: str, owner: str, max_minutes: int) -> None:
        self.name, self.owner, self.max_minutes = name, owner, max_minutes
        self.engine = db.engine
        self.interval = min(
            max_minutes * 20.0, float(app.config.get("JOB_LEASE_RENEW_SECONDS", 60))
        )
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                held = renew(self.name, self.owner, self.max_minutes, self.engine)
            except Exception as error:  # the database is briefly away: try again next time
                log.warning("Job %s: lease renewal failed (%s)", self.name, type(error).__name__)
                continue
            if not held:
                log.error("Job %s: lease lost to another process", self.name)
                self.lost.set()
                return


def run_job(app: Flask, name: str) -> bool:
    """Run one job now, under its lock, as one unit of work (long jobs checkpoint their
    batches), and record the run (``JobRun``: the scheduler's heartbeat). Returns False when
    it was already running."""
    spec = JOBS[name]
    with app.app_context():
        owner = acquire(name, spec.max_minutes)
        if owner is None:
            log.info("Job %s is already running elsewhere", name)
            return False
        started = time.monotonic()
        _record_run(name, started=True)
        try:
            with Lease(app, name, owner, spec.max_minutes), unit_of_work():
                _function(spec)()
        except Exception as error:
            log.exception("Job %s failed after %.1f s", name, time.monotonic() - started)
            _record_run(name, error=error)
            raise
        else:
            log.info("Job %s ran in %.1f s", name, time.monotonic() - started)
            _record_run(name)
        finally:
            release(name, owner)
            db.session.remove()
    return True


def _record_run(name: str, started: bool = False, error: Exception | None = None) -> None:
    """Note a start, a success or a failure, in its own small transaction (a failed job's
    work is rolled back, its failure is kept). Never fails the job itself."""
    now = utcnow()
    try:
        with unit_of_work():
            run = db.session.get(JobRun, name) or JobRun(name=name, runs=0, failures=0)
            db.session.add(run)
            if started:
                run.started_at = now
                run.runs = (run.runs or 0) + 1
                return
            run.finished_at = now
            if error is None:
                run.succeeded_at = now
            else:
                run.failed_at = now
                run.failures = (run.failures or 0) + 1
                run.last_error = type(error).__name__[:120]
    except Exception as failure:  # the database is away: the run itself matters more
        log.warning("Job %s: run not recorded (%s)", name, type(failure).__name__)


# The application the scheduler of this process runs jobs for. Jobs in the database job
# store are pickled, so they name the job only; the app (not picklable) is looked up here.
_SCHEDULED_APP: Flask | None = None


def _job_store(app: Flask):
    """APScheduler's SQLAlchemy job store on the application's own engine.

    Its table (``apscheduler_jobs``) comes from migration 0008, never from ``create_all``;
    and the engine is the application's, so the store must not dispose of it on shutdown.
    """
    from apscheduler.jobstores.base import BaseJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    class ApplicationJobStore(SQLAlchemyJobStore):
        def start(self, scheduler, alias):
            BaseJobStore.start(self, scheduler, alias)  # no table creation

        def shutdown(self):
            pass

    with app.app_context():
        store = ApplicationJobStore(engine=db.engine)
        # Jobs an older version of the code declared would otherwise stay in the table.
        with db.engine.begin() as connection:
            connection.execute(store.jobs_t.delete().where(store.jobs_t.c.id.not_in(list(JOBS))))
        return store


def build_scheduler(app: Flask, blocking: bool = False):
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    global _SCHEDULED_APP
    _SCHEDULED_APP = app
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone="UTC", jobstores={"default": _job_store(app)}
    )
    for name, spec in JOBS.items():
        scheduler.add_job(
            scheduled_run,
            args=(name,),
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


def scheduled_run(name: str) -> None:
    """What the job store holds for every job: run it, under its lock, for this process."""
    if _SCHEDULED_APP is None or name not in JOBS:
        log.warning("Scheduled job %s has no application or is no longer declared", name)
        return
    _safe_run(_SCHEDULED_APP, name)


def start_in_process(app: Flask) -> None:
    """Start the background scheduler in this serving process (``make run``)."""
    if "scheduler" in app.extensions:
        return
    scheduler = build_scheduler(app)
    scheduler.start()
    app.extensions["scheduler"] = scheduler


@event.listens_for(Session, "after_commit")
def wake_dispatch_after_commit(session) -> None:
    """A committed urgent staff notice: the in-process scheduler runs the dispatch now rather
    than at its next tick (a stand-alone scheduler process picks it up within its interval)."""
    if not session.info.pop(staff_notices.WAKE_DISPATCH, False) or not has_app_context():
        return
    scheduler = current_app.extensions.get("scheduler")
    if scheduler is None:
        return
    try:
        scheduler.modify_job("dispatch_deliveries", next_run_time=dt.datetime.now(dt.UTC))
    except Exception as error:  # the next tick sends it anyway
        log.warning("Dispatch not woken (%s)", type(error).__name__)


@event.listens_for(Session, "after_rollback")
def _forget_wake(session) -> None:
    session.info.pop(staff_notices.WAKE_DISPATCH, None)


register(
    "purge_outreach_contacts",
    "backoffice.services.outreach:purge_expired_contacts",
    "cron",
    hour=3,
    minute=15,
)
register(
    "anonymise_reports", "backoffice.services.intake:anonymise_pending", "interval", seconds=30
)
register(
    "purge_api_idempotency",
    "backoffice.services.intake:purge_idempotency_records",
    "interval",
    hours=1,
)
register("purge_sign_in_records", "backoffice.services.staff_sessions:purge", "interval", hours=1)
register("case_action_digest", "backoffice.services.cases:send_action_digests", "cron", hour=7)
# Signed checkpoints of the audit chain's head, outside the database (issue 12, finding 4).
register("audit_checkpoint", "backoffice.services.audit:export_checkpoint", "interval", hours=1)
register("expire_alerts", "backoffice.services.alerts:expire_due_alerts", "cron", hour=3)
# A question unanswered after INFORMATION_ANSWER_DAYS: the report back to the queue.
register(
    "expire_unanswered_questions",
    "backoffice.services.questions:expire_unanswered_job",
    "interval",
    hours=1,
)
register(
    "dispatch_deliveries",
    "backoffice.jobs:dispatch_deliveries",
    "interval",
    max_minutes=2,  # a run stops after DISPATCH_TIME_BUDGET_SECONDS; a crashed one frees it fast
    seconds=5,
)
# Staff notices: unclaimed dangerous reports, near deadlines, answers received (issue 18).
register(
    "staff_notices",
    "backoffice.services.staff_notices:run_rules",
    "interval",
    max_minutes=5,
    seconds=60,
)
register(
    "erase_unsubscribed_contacts",
    "backoffice.services.subscribers:erase_unsubscribed_contacts",
    "cron",
    hour=3,
    minute=30,
)
register(
    "purge_old_deliveries",
    "backoffice.services.subscribers:purge_old_deliveries",
    "cron",
    hour=3,
    minute=45,
)
register(
    "purge_pending_registrations",
    "backoffice.services.worker_access:purge_pending_registrations",
    "interval",
    hours=1,
)
register(
    "flush_check_counts", "backoffice.services.alerts:flush_check_counts_job", "interval", minutes=1
)
register(
    "monthly_funder_report",
    "reports_pdf.funder_report:build_scheduled_reports",
    "cron",
    day=1,
    hour=4,
)
# The statistics read the rollup and compute the days changed since its last refresh: the
# more often it is refreshed, the fewer days a page computes.
register(
    "statistics_refresh",
    "backoffice.services.statistics:refresh_rollup",
    "interval",
    max_minutes=10,
    minutes=5,
)
register("statistics_rebuild", "backoffice.services.statistics:rebuild_rollup", "cron", hour=2)
register(
    "apply_retention",
    "backoffice.services.retention:apply_retention",
    "cron",
    max_minutes=60,
    hour=2,
    minute=30,
)
register(
    "prune_audit_trail",
    "backoffice.services.audit_retention:prune_job",
    "cron",
    max_minutes=60,
    hour=3,
    minute=30,
)
