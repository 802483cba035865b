"""Demo moderation: published, retracted and archived alerts; reports waiting in every state.

Runs after the intake demo (imported first, so its seeder comes before this one) and takes
some of its reports through the real state machine and alert service, as the moderator
``demo-moderator`` would: corroborating reports (sharing an identifier) become one alert.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

import backoffice.services.intake_demo  # noqa: F401 - its seeder must run before this one
from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.report import Report
from backoffice.services import alerts, moderation
from backoffice.services.demo import SEEDERS, DemoContext

SUMMARIES = {
    "fr": "Se présente comme un client régulier, devient violent quand on refuse. Prudence.",
    "en": "Presents himself as a regular client, turns violent when refused. Be careful.",
}


def _waiting(consent: bool = True) -> list[Report]:
    return list(
        db.session.scalars(
            select(Report)
            .where(Report.status == "received", Report.consent_publish_alert.is_(consent))
            .order_by(Report.received_at)
        )
    )


def _clusters(reports: list[Report], wanted: int) -> list[list[Report]]:
    """Groups of waiting reports sharing an identifier (corroboration), largest first."""
    waiting = {r.id: r for r in reports}
    used: set[int] = set()
    groups = []
    for report in reports:
        if report.id in used:
            continue
        group = [report] + [
            other
            for other, _kinds in moderation.linked_reports(report)
            if other.id in waiting and other.id not in used
        ]
        if len(group) >= 2:
            groups.append(group[:3])
            used.update(r.id for r in group[:3])
    groups.sort(key=len, reverse=True)
    singles = [[r] for r in reports if r.id not in used]
    return (groups + singles)[:wanted]


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
    alert = alerts.compose(group, moderator, parts)
    alerts.publish(alert, moderator, now=published)
    return alert


def _waiting_states(moderator, now: dt.datetime) -> dict[str, int]:
    waiting = _waiting()
    counts: dict[str, int] = {}

    def take() -> Report | None:
        return waiting.pop(0) if waiting else None

    for status, steps in (
        ("in_review", ["claim"]),
        ("needs_info", ["claim", "request_info"]),
        ("approved", ["claim", "review", "approve"]),
        ("rejected", ["claim", "reject"]),
        ("merged", ["claim", "merge"]),
    ):
        for _ in range(2):
            report = take()
            if report is None:
                break
            for step in steps:
                if step == "review":
                    moderation.review_redaction(report, moderator, now=now)
                elif step == "merge":
                    target = db.session.scalar(
                        select(Report).where(Report.status == "approved").limit(1)
                    )
                    moderation.perform(report, "merge", moderator, merge_into=target, now=now)
                else:
                    reason = {
                        "request_info": "Préciser la date et le lieu avec elle.",
                        "reject": "Doublon d'un signalement déjà traité par téléphone.",
                    }.get(step)
                    moderation.perform(report, step, moderator, reason=reason, now=now)
            counts[status] = counts.get(status, 0) + 1
    for report in _waiting(consent=False)[:3]:  # she refused an alert: kept for follow-up
        moderation.perform(report, "claim", moderator, now=now)
        moderation.perform(report, "record_only", moderator, now=now)
        counts["recorded"] = counts.get("recorded", 0) + 1
    return counts


def seed_moderation(context: DemoContext) -> None:
    if db.session.scalar(select(func.count(Alert.id))):
        return
    moderator = context.users["demo-moderator"]
    now = utcnow()
    groups = _clusters(_waiting(), 6)
    if len(groups) < 6:
        context.lines.append("Demo moderation: not enough reports to publish alerts.")
        return
    published = [
        _alert(g, moderator, now - dt.timedelta(days=i + 1)) for i, g in enumerate(groups[:4])
    ]
    alerts.retract(published[3], moderator, "Erreur sur le numéro: ce n'était pas le bon.", now=now)
    year_ago = now - dt.timedelta(days=400)
    old = [_alert(g, moderator, year_ago) for g in groups[4:6]]
    expired = alerts.expire_due_alerts(now)
    db.session.flush()
    counts = _waiting_states(moderator, now)
    context.lines.append(
        f"Demo moderation: {len(published) - 1} alerts published, 1 retracted, "
        f"{expired} archived ({len(old)} expired); reports waiting: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
    )


if seed_moderation not in SEEDERS:
    SEEDERS.append(seed_moderation)
