"""What monitoring asks: is the service healthy (``/healthz``), and its figures (``/metrics``).

Health checks, each ``ok`` or not, with a figure and never personal data:

* ``database``: a query answers;
* ``keys``: the key material is loaded and holds its active key;
* ``scheduler``: some scheduled job started within ``HEALTH_SCHEDULER_MAX_SECONDS``
  (dispatch runs every 5 s: a silent scheduler means alerts are not going out);
* ``outbox``: the oldest due, unsent delivery waits less than ``HEALTH_OUTBOX_LAG_SECONDS``.

Metrics (Prometheus text, prometheus-client): outbox depth by status and channel, outbox lag,
failed deliveries by channel and reason, each job's last success and failure count, the
scheduler's heartbeat age.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.jobs import JobRun


def checks(config: Mapping, keyring, now: dt.datetime | None = None) -> dict[str, dict]:
    """Every check: {name: {"ok": bool, ...figures}}."""
    now = now or utcnow()
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # the other checks need the database too
        return {"database": {"ok": False, "error": type(error).__name__}}
    heartbeat = scheduler_heartbeat_age(now)
    lag = outbox_lag_seconds(now)
    scheduler_limit = float(config.get("HEALTH_SCHEDULER_MAX_SECONDS", 120))
    lag_limit = float(config.get("HEALTH_OUTBOX_LAG_SECONDS", 600))
    return {
        "database": {"ok": True},
        "keys": {"ok": keyring is not None and keyring.active_id in keyring.root_keys},
        "scheduler": {
            "ok": heartbeat is not None and heartbeat <= scheduler_limit,
            "last_run_seconds_ago": heartbeat,
        },
        "outbox": {"ok": lag <= lag_limit, "lag_seconds": lag, "queued": queue_depth()},
    }


def scheduler_heartbeat_age(now: dt.datetime) -> float | None:
    """Seconds since a scheduled job last started (None: never)."""
    last = db.session.scalar(select(func.max(JobRun.started_at)))
    return None if last is None else round((now - last).total_seconds(), 1)


def outbox_lag_seconds(now: dt.datetime) -> float:
    """How long the oldest due delivery has been waiting to go (0 when none waits)."""
    oldest = db.session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "queued", Delivery.next_attempt_at <= now
        )
    )
    return 0.0 if oldest is None else round((now - oldest).total_seconds(), 1)


def queue_depth() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.status.in_(("queued", "sending")))
    )


class _Collector:
    """Reads the figures from the database at each scrape."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "backoffice_outbox_deliveries", "Deliveries not yet final", labels=["status", "channel"]
        )
        for status, channel, count in db.session.execute(
            select(Delivery.status, Delivery.channel, func.count())
            .where(Delivery.status.in_(("queued", "sending")))
            .group_by(Delivery.status, Delivery.channel)
        ):
            depth.add_metric([status, channel], count)
        yield depth
        yield GaugeMetricFamily(
            "backoffice_outbox_lag_seconds",
            "Age of the oldest due delivery not yet sent",
            value=outbox_lag_seconds(self.now),
        )
        failed = GaugeMetricFamily(
            "backoffice_deliveries_failed",
            "Failed deliveries kept (retention: DELIVERY_RETENTION_DAYS)",
            labels=["channel", "reason"],
        )
        for channel, reason, count in db.session.execute(
            select(Delivery.channel, Delivery.error_code, func.count())
            .where(Delivery.status == "failed")
            .group_by(Delivery.channel, Delivery.error_code)
        ):
            failed.add_metric([channel, reason or "unknown"], count)
        yield failed
        yield from self._jobs()

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        success = GaugeMetricFamily(
            "backoffice_job_last_success_timestamp_seconds", "Last success", labels=["job"]
        )
        failures = GaugeMetricFamily(
            "backoffice_job_failures", "Failed runs since the job first ran", labels=["job"]
        )
        for run in db.session.scalars(select(JobRun)):
            if run.succeeded_at is not None:
                moment = run.succeeded_at.replace(tzinfo=dt.UTC)
                success.add_metric([run.name], moment.timestamp())
            failures.add_metric([run.name], run.failures or 0)
        yield success
        yield failures
        age = scheduler_heartbeat_age(self.now)
        yield GaugeMetricFamily(
            "backoffice_scheduler_heartbeat_age_seconds",
            "Seconds since a scheduled job last started (-1: never)",
            value=-1 if age is None else age,
        )


def metrics_text(now: dt.datetime | None = None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(now or utcnow()))
    return generate_latest(registry)
