"""Demo subscribers and deliveries: workers in several languages and departments, partner
alert emails, and the published demo alerts' outboxes with some outcomes already recorded.

Addresses use example.org (reserved, no mail server). The numbers must pass the same check
as real ones (the fiction ranges regulators reserve are refused as invalid), so they are
placeholders in 06 12 34 56 xx: never point a demo database at a real SMS gateway.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update

from backoffice.demo.base import ACCEPTESS, AIDES, DemoContext
from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.dispatch import AlertDispatch, Delivery
from backoffice.models.subscriber import Subscriber
from backoffice.services import outbox, subscribers

RESENT_WITHIN = dt.timedelta(days=7)

# pseudonym, language, departments ("all" for all of France), SMS?, email?, status, organisation
DEMO_SUBSCRIBERS = [
    ("Lila", "pt", "75 93", True, False, "active", AIDES),
    ("Mei", "zh", "75", True, True, "active", AIDES),
    ("Ioana", "ro", "93 94", True, False, "active", AIDES),
    ("Svetla", "bg", "13", True, False, "active", AIDES),
    ("Oksana", "uk", "all", True, True, "active", AIDES),
    ("Nadia", "ar", "69", True, False, "active", AIDES),
    ("Carla", "es", "75 92", False, True, "active", AIDES),
    ("Jade", "fr", "59", True, False, "active", AIDES),
    ("Irina", "ru", "75", True, False, "active", AIDES),
    ("Grace", "en", "13 69", True, True, "active", AIDES),
    ("Ana", "pt", "93", True, False, "pending", AIDES),
    ("Li", "zh", "75", True, False, "paused", AIDES),
    ("Yasmine", "ar", "75 93 95", True, False, "active", ACCEPTESS),
    ("Camila", "es", "93", True, False, "active", ACCEPTESS),
    ("Daniela", "ro", "95", True, True, "active", ACCEPTESS),
    ("Kim", "fr", "all", False, True, "active", ACCEPTESS),
    ("Tatiana", "ru", "93", True, False, "pending", ACCEPTESS),
    ("Paula", "pt", "75", True, False, "unsubscribed", ACCEPTESS),
]


def _phone(number: int) -> str:
    return f"+33 6 12 34 {56 + number // 100:02d} {number % 100:02d}"


def _register(context: DemoContext, index: int, row, now: dt.datetime) -> Subscriber | None:
    pseudonym, language, departments, sms, email, status, organisation = row
    data = {
        "pseudonym": pseudonym,
        "phone": _phone(index + 1) if sms else "",
        "email": f"{pseudonym.lower()}.demo@example.org" if email else "",
        "language": language,
        "departments": departments,
    }
    actor = context.users["demo-social-a" if organisation == AIDES else "demo-social-b"]
    try:
        subscriber = subscribers.register(
            data, context.organisations[organisation].id, actor, validate_now=status != "pending"
        )
    except subscribers.SubscriberError:
        return None  # already there (seeded before)
    if status == "paused":
        subscribers.pause(subscriber, actor, now=now)
    elif status == "unsubscribed":
        subscribers.unsubscribe(subscriber, "staff", actor, now=now)
    return subscriber


def _record_outcomes(alert: Alert, now: dt.datetime) -> None:
    """The older alert's deliveries went out (two failed, with their reasons)."""
    rows = db.session.scalars(
        select(Delivery).where(Delivery.alert_id == alert.id).order_by(Delivery.id)
    ).all()
    for position, delivery in enumerate(rows):
        delivery.attempts = 1
        if position == 1 and delivery.channel == "sms":
            delivery.status, delivery.error_code = "failed", "gateway_refused"
            delivery.last_error = "HTTP 400 unknown or inactive number"
        elif position == 2 and delivery.channel == "email":
            delivery.status, delivery.error_code = "failed", "address_refused"
            delivery.last_error = "550 5.1.1 <address>: mailbox unavailable"
        else:
            delivery.status, delivery.sent_at = "sent", now
            delivery.provider_message_id = f"demo-{delivery.id}"


def seed_dispatch(context: DemoContext) -> None:
    now = utcnow()
    for name, email in (
        (AIDES, "alertes-aides@example.org"),
        (ACCEPTESS, "alertes-acceptess@example.org"),
    ):
        organisation = context.organisations[name]
        organisation.alert_email = organisation.alert_email or email
    before = db.session.scalar(select(func.count(Subscriber.id)))
    for index, row in enumerate(DEMO_SUBSCRIBERS):
        _register(context, index, row, now)
    # The demo's welcome SMS would go nowhere: mark them sent.
    db.session.execute(
        update(Delivery)
        .where(Delivery.purpose == "welcome", Delivery.status == "queued")
        .values(status="sent", attempts=1, sent_at=now)
    )
    # This week's alerts were published before the demo subscribers existed: fan them out
    # again now that they do. Older ones stay as sent then (a new subscriber gets no backlog).
    published = db.session.scalars(
        select(Alert)
        .where(Alert.status == "published", Alert.published_at >= now - RESENT_WITHIN)
        .order_by(Alert.published_at)
    ).all()
    for alert in published:
        has_rows = db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.alert_id == alert.id)
        )
        if not has_rows:
            db.session.execute(delete(AlertDispatch).where(AlertDispatch.alert_id == alert.id))
            outbox.enqueue_alert(alert, now=now)
    if len(published) > 1:
        _record_outcomes(published[0], now)
    created = db.session.scalar(select(func.count(Subscriber.id))) - before
    context.lines.append(
        f"Demo subscribers: {created} registered; deliveries queued for "
        f"this week's {len(published)} alerts (the latest are sent by the scheduler)."
    )
