"""The scheduler's tables: locks that keep one job from running twice at once across
processes, and APScheduler's job store.

``apscheduler_jobs`` is declared here with the exact definition of ``SQLAlchemyJobStore`` so
that it comes from a migration (0008) like every other table.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, Float, Integer, LargeBinary, String, Table, Unicode
from sqlalchemy.orm import Mapped, mapped_column


class JobLock(Model):
    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class JobRun(Model):
    """The last run of each scheduled job: the scheduler's heartbeat for ``/healthz`` and
    the metrics, and the last failure an operator should look at (its type, never its
    message: that may quote data)."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    succeeded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(120), nullable=True)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


# APScheduler 3's SQLAlchemyJobStore table, column for column (apscheduler/jobstores/
# sqlalchemy.py): 191 is MySQL's key limit, Float(25) an 8-byte float.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Model.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
