"""Demo moderation: two years of settled reports, and today's work in every state.

Runs after the intake demo (imported first, so its seeder comes before this one) and takes
its reports through the real state machine and alert service, as the moderator
``demo-moderator`` would, at the time each step would have happened:

* reports older than the intake demo's ``QUEUE_DAYS`` were settled within two days of coming
  in: corroborating reports (sharing an identifier, received within weeks of each other)
  became one alert, the others their own alert; a few were rejected; those whose author
  refused an alert were recorded only. Alerts older than the alert lifetime are archived by
  the expiry job, as in production;
* the recent reports are the queue: four alerts published in the last days (one retracted),
  two reports in each working state, and the rest still waiting.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from backoffice.demo.base import DemoContext
from backoffice.demo.intake import QUEUE_DAYS
from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.report import Report
from backoffice.services import alerts, moderation

SEED = 11
# Corroborating reports further apart than this were not waited for: each had its alert.
CORROBORATION_DAYS = 45
REJECTED_SHARE = 0.08
REJECTION_REASONS = [
    "Doublon d'un signalement déjà traité par téléphone.",
    "Hors du champ des alertes : litige sur un paiement, sans violence.",
    "Message de test envoyé depuis le site.",
]
SUMMARIES = {
    "fr": "Se présente comme un client régulier, devient violent quand on refuse. Prudence.",
    "en": "Presents himself as a regular client, turns violent when refused. Be careful.",
}


def _waiting(
    *, since: dt.datetime | None = None, before: dt.datetime | None = None, consent: bool = True
) -> list[Report]:
    """Reports still ``received`` that came in from ``since`` and before ``before``."""
    statement = select(Report).where(
        Report.status == "received", Report.consent_publish_alert.is_(consent)
    )
    if since is not None:
        statement = statement.where(Report.received_at >= since)
    if before is not None:
        statement = statement.where(Report.received_at < before)
    return list(db.session.scalars(statement.order_by(Report.received_at, Report.id)))


def _clusters(reports: list[Report]) -> list[list[Report]]:
    """Reports grouped with the later ones corroborating them (shared identifier), in order.

    A group holds at most three reports received within ``CORROBORATION_DAYS`` of its first.
    """
    waiting = {r.id: r for r in reports}
    used: set[int] = set()
    groups = []
    for report in reports:
        if report.id in used:
            continue
        horizon = report.received_at + dt.timedelta(days=CORROBORATION_DAYS)
        group = [report] + [
            other
            for other, _kinds in moderation.linked_reports(report)
            if other.id in waiting and other.id not in used and other.received_at <= horizon
        ]
        group = group[:3]
        used.update(r.id for r in group)
        groups.append(group)
    return groups


def _approve(report: Report, moderator, now: dt.datetime) -> None:
    moderation.perform(report, "claim", moderator, now=now)
    moderation.review_redaction(report, moderator, now=now)
    moderation.perform(report, "approve", moderator, now=now)


def _alert(group: list[Report], moderator, published: dt.datetime) -> Alert:
    for report in group:
        _approve(report, moderator, published)
    parts = alerts.parts_from_reports(group)
    parts.summary = SUMMARIES["fr"]
    parts.translations = {"en": SUMMARIES["en"]}
    alert = alerts.compose(group, moderator, parts, now=published)
    alerts.publish(alert, moderator, now=published)
    return alert


def _settle(report: Report, moderator, step: str, when: dt.datetime) -> None:
    _step(report, "claim", moderator, when)
    _step(report, step, moderator, when)


def _settle_history(moderator, cutoff: dt.datetime, rng: random.Random) -> dict[str, int]:
    """Settle every report received before ``cutoff`` within two days of its arrival."""
    counts = {"alerts": 0, "rejected": 0, "recorded": 0}
    for group in _clusters(_waiting(before=cutoff)):
        last = group[-1].received_at
        when = last + dt.timedelta(hours=rng.uniform(3, 48))
        if len(group) == 1 and rng.random() < REJECTED_SHARE:
            _settle(group[0], moderator, "reject", when)
            counts["rejected"] += 1
        else:
            _alert(group, moderator, when)
            counts["alerts"] += 1
    for report in _waiting(before=cutoff, consent=False):
        when = report.received_at + dt.timedelta(hours=rng.uniform(3, 48))
        _settle(report, moderator, "record_only", when)
        counts["recorded"] += 1
    return counts


def _recent_alerts(moderator, cutoff: dt.datetime, now: dt.datetime, rng: random.Random):
    """Four alerts published since ``cutoff``; the last one retracted."""
    groups = sorted(_clusters(_waiting(since=cutoff)), key=len, reverse=True)[:4]
    published = []
    for group in sorted(groups, key=lambda g: g[-1].received_at):
        last = group[-1].received_at
        published.append(_alert(group, moderator, last + (now - last) * rng.uniform(0.3, 0.7)))
    if published:
        alerts.retract(
            published[-1], moderator, "Erreur sur le numéro: ce n'était pas le bon.", now=now
        )
    return published


def _waiting_states(moderator, cutoff: dt.datetime, now: dt.datetime) -> dict[str, int]:
    """Two of the oldest recent reports in each working state; three recorded only."""
    waiting = _waiting(since=cutoff)
    counts: dict[str, int] = {}
    for status, steps in (
        ("in_review", ["claim"]),
        ("needs_info", ["claim", "request_info"]),
        ("approved", ["claim", "review", "approve"]),
        ("rejected", ["claim", "reject"]),
        ("merged", ["claim", "merge"]),
    ):
        for report in [waiting.pop(0) for _ in range(min(2, len(waiting)))]:
            for step in steps:
                _step(report, step, moderator, now)
            counts[status] = counts.get(status, 0) + 1
    refused = _waiting(since=cutoff, consent=False)[:3]  # no alert wanted: kept for follow-up
    for report in refused:
        _settle(report, moderator, "record_only", now)
        counts["recorded"] = counts.get("recorded", 0) + 1
    return counts


def _step(report: Report, step: str, moderator, now: dt.datetime) -> None:
    if step == "review":
        moderation.review_redaction(report, moderator, now=now)
    elif step == "merge":
        target = db.session.scalar(
            select(Report).where(Report.status == "approved").order_by(Report.id.desc()).limit(1)
        )
        moderation.perform(report, "merge", moderator, merge_into=target, now=now)
    else:
        moderation.perform(report, step, moderator, reason=_reason(report, step), now=now)


def _reason(report: Report, step: str) -> str | None:
    if step == "reject":
        return REJECTION_REASONS[report.id % len(REJECTION_REASONS)]
    if step == "request_info":
        return "Préciser la date et le lieu avec elle."
    return None


def seed_moderation(context: DemoContext) -> None:
    if db.session.scalar(select(func.count(Alert.id))):
        return
    rng = random.Random(SEED)  # noqa: S311 - demo data, reproducible on purpose
    moderator = context.users["demo-moderator"]
    now = utcnow()
    cutoff = now - dt.timedelta(days=QUEUE_DAYS)
    history = _settle_history(moderator, cutoff, rng)
    expired = alerts.expire_due_alerts(now)
    recent = _recent_alerts(moderator, cutoff, now, rng)
    db.session.flush()
    counts = _waiting_states(moderator, cutoff, now)
    waiting = len(_waiting(since=cutoff)) + len(_waiting(since=cutoff, consent=False))
    context.lines.append(
        f"Demo moderation: the last {QUEUE_DAYS} days hold {len(recent)} alerts "
        f"(1 retracted) and {waiting} reports waiting, others "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + f"; before that {history['alerts']} alerts ({expired} archived on expiry), "
        f"{history['rejected']} reports rejected, {history['recorded']} recorded only."
    )
