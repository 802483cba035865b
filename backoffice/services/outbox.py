"""The transactional outbox: what is to be sent, written in the transaction of what causes it.

Publication (``services.alerts``) and the subscriber lifecycle (``services.subscribers``)
write here; the dispatch workers (``services.dispatch``) empty it. This module depends on
the models only, so both sides import it at the top and neither imports the other.

Fan-out (``enqueue_alert``) runs inside the publication's transaction: one ``Delivery`` row
per recipient and channel — active subscribers whose departments meet the alert's (or who
chose all of France), on every channel they gave, in their language; and partner
associations whose departments meet it, by email. Two ``INSERT … SELECT`` statements write
the subscribers' rows in the database without loading them (100,000 rows in about a second
on PostgreSQL, see ``bench/dispatch_fanout.py``). ``AlertDispatch`` records that the fan-out
ran, so it runs once; the unique (alert, recipient, channel) makes a second run harmless
anyway. If publication did not call it, ``enqueue_pending_alerts`` (run before every
dispatch) picks up published alerts whose dispatch was requested and never written.

A notice (``enqueue_notice``) is one SMS to one subscriber: the welcome after validation,
the goodbye after STOP. A staff notice (``enqueue_staff_notice``, written by
``services.staff_notices``) is one delivery per channel the staff user chose, due at once or
at the end of her quiet hours; the same workers send it.

A correction or an update of a published alert (``enqueue_revision``, issue 18.6) goes to
those who received the alert — its recipients whose alert message was sent (or was being
sent) — on the same channel, once per version: subscribers still active, on a channel they
still accept, in their language of today; partner associations still active with an alert
address. Recipients whose alert is still queued need nothing: messages are rendered at send
time, so they receive the corrected text.
"""

from __future__ import annotations

import datetime as dt
import secrets

from flask import current_app
from sqlalchemy import (
    DateTime,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.dispatch import REVISION_PURPOSES, AlertDispatch, Delivery
from backoffice.models.organisation import Organisation
from backoffice.models.staff_notice import StaffNotice
from backoffice.models.subscriber import Subscriber, SubscriberDepartment
from backoffice.services import audit

PARTNER_LANGUAGE = "fr"


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(table):
    insert = postgresql.insert if _dialect() == "postgresql" else sqlite.insert
    # PostgreSQL drivers report an INSERT's row count only when asked to keep it.
    return insert(table).execution_options(preserve_rowcount=True)


def _random_key():
    """A random 32-hex-digit idempotency key computed by the database, row by row."""
    if _dialect() == "postgresql":
        return func.replace(cast(func.gen_random_uuid(), String), "-", "")
    return func.lower(func.hex(func.randomblob(16)))


def _department_match(departments: list[str]):
    wanted = select(SubscriberDepartment.subscriber_id).where(
        SubscriberDepartment.department.in_(departments)
    )
    if not departments:
        return Subscriber.all_departments == true()
    return or_(Subscriber.all_departments == true(), Subscriber.id.in_(wanted))


_DELIVERY_COLUMNS = [
    "alert_id",
    "purpose",
    "recipient_key",
    "subscriber_id",
    "channel",
    "language",
    "status",
    "attempts",
    "next_attempt_at",
    "idempotency_key",
    "created_at",
    "updated_at",
]


def _subscriber_rows(alert_id: int, channel: str, departments: list[str], now: dt.datetime):
    index_column = Subscriber.phone_index if channel == "sms" else Subscriber.email_index
    return select(
        literal(alert_id, Integer),
        literal("alert", String),
        literal("s", String).concat(cast(Subscriber.id, String)),
        Subscriber.id,
        literal(channel, String),
        Subscriber.language,
        literal("queued", String),
        literal(0, Integer),
        literal(now, DateTime),
        _random_key(),
        literal(now, DateTime),
        literal(now, DateTime),
    ).where(
        Subscriber.status == "active",
        index_column.is_not(None),
        # She may have chosen one channel (API /me); None: every channel she gave.
        or_(Subscriber.channel.is_(None), Subscriber.channel == channel),
        _department_match(departments),
    )


def _partners(departments: list[str]) -> list[Organisation]:
    statement = select(Organisation).where(
        Organisation.active == true(), Organisation.alert_email.is_not(None)
    )
    wanted = set(departments)
    return [
        organisation
        for organisation in db.session.scalars(statement)
        if (organisation.alert_email or "").strip()
        and (not organisation.departments or wanted & set(organisation.departments))
    ]


def _enqueue_partner(
    alert_id: int, purpose: str, partner_id: int, now: dt.datetime, version: int = 1
) -> int:
    """One email to a partner association about an alert (its ``version``); the unique
    (alert, version, recipient, channel) makes a second call write nothing."""
    row = {
        "alert_id": alert_id,
        "alert_version": version,
        "purpose": purpose,
        "recipient_key": f"o{partner_id}",
        "partner_id": partner_id,
        "channel": "email",
        "language": PARTNER_LANGUAGE,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "idempotency_key": secrets.token_hex(16),
        "created_at": now,
        "updated_at": now,
    }
    statement = _insert(Delivery.__table__).values(**row).on_conflict_do_nothing()
    return db.session.execute(statement).rowcount or 0


def recipient_counts(alert: Alert, now: dt.datetime | None = None) -> dict[str, int]:
    """How many SMS, e-mails and partner e-mails publishing ``alert`` would queue now.

    The same selection as ``enqueue_alert``, counted: said on the confirmation page.
    """
    now = now or utcnow()
    departments = [str(d) for d in (alert.departments or [])]
    counts = {}
    for channel in ("sms", "email"):
        rows = _subscriber_rows(alert.id or 0, channel, departments, now).subquery()
        counts[channel] = db.session.scalar(select(func.count()).select_from(rows)) or 0
    counts["partners"] = len(_partners(departments))
    return counts


def enqueue_alert(alert: Alert, now: dt.datetime | None = None) -> int:
    """Write the alert's outbox in the caller's transaction; returns the rows written.

    Call it from publication, before the commit: the alert and its deliveries then exist
    together or not at all. A second call for the same alert writes nothing.
    """
    now = now or utcnow()
    db.session.flush()
    claimed = db.session.execute(
        _insert(AlertDispatch.__table__)
        .values(alert_id=alert.id, enqueued_at=now, recipients=0)
        .on_conflict_do_nothing()
    )
    if not claimed.rowcount:
        return 0
    departments = [str(d) for d in (alert.departments or [])]
    table = Delivery.__table__
    total = 0
    for channel in ("sms", "email"):
        # No ON CONFLICT here: the AlertDispatch row above already makes this run the only
        # one for the alert (a concurrent second call waits on it, then writes nothing), and
        # PostgreSQL's speculative insertion would cost a third of the time at 100,000 rows.
        # The unique (alert, recipient, channel) still stands guard.
        statement = _insert(table).from_select(
            _DELIVERY_COLUMNS, _subscriber_rows(alert.id, channel, departments, now)
        )
        total += db.session.execute(statement).rowcount or 0
    partners = _partners(departments)
    for organisation in partners:
        total += _enqueue_partner(alert.id, "alert", organisation.id, now)
    db.session.execute(
        update(AlertDispatch.__table__)
        .where(AlertDispatch.__table__.c.alert_id == alert.id)
        .values(recipients=total)
    )
    audit.record(
        "alert_dispatch_enqueued",
        alert,
        details={"deliveries": total, "partners": len(partners)},
    )
    return total


def enqueue_notice(subscriber: Subscriber, purpose: str, now: dt.datetime | None = None) -> int:
    """Queue a welcome or goodbye SMS to one subscriber (nothing without a number)."""
    if not subscriber.phone_index:
        return 0
    now = now or utcnow()
    db.session.add(
        Delivery(
            alert_id=None,
            purpose=purpose,
            recipient_key=f"s{subscriber.id}",
            subscriber_id=subscriber.id,
            channel="sms",
            language=subscriber.language,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            idempotency_key=secrets.token_hex(16),
            created_at=now,
            updated_at=now,
        )
    )
    return 1


def enqueue_staff_notice(
    notice: StaffNotice, user_id: int, channels: list[str], due: dt.datetime, now: dt.datetime
) -> int:
    """Queue a staff notice on each of her channels, due at ``due`` (added, not flushed: the
    notice and its deliveries are written together by the caller's commit). The unique
    (notice, channel) and the notice's unique key make it once."""
    for channel in channels:
        db.session.add(
            Delivery(
                alert_id=None,
                purpose="staff",
                recipient_key=f"u{user_id}",
                staff_notice=notice,
                channel=channel,
                language=PARTNER_LANGUAGE,
                status="queued",
                attempts=0,
                next_attempt_at=due,
                idempotency_key=secrets.token_hex(16),
                # The "too late" limit counts from when it may be sent.
                created_at=due,
                updated_at=now,
            )
        )
    return len(channels)


# --- corrections and updates of a published alert ------------------------------------------

# The alert messages that reached (or were reaching) someone: a correction goes to them.
_RECEIVED = ("sent", "sending")


def _received_by_subscribers(alert_id: int):
    """Subscribers' alert messages of ``alert_id`` that went out, still deliverable."""
    return and_(
        Delivery.alert_id == alert_id,
        Delivery.purpose == "alert",
        Delivery.status.in_(_RECEIVED),
        Subscriber.status == "active",
        or_(Subscriber.channel.is_(None), Subscriber.channel == Delivery.channel),
        or_(
            and_(Delivery.channel == "sms", Subscriber.phone_index.is_not(None)),
            and_(Delivery.channel == "email", Subscriber.email_index.is_not(None)),
        ),
    )


def _revision_partners(alert_id: int) -> list[Delivery]:
    received = select(Delivery).where(
        Delivery.alert_id == alert_id,
        Delivery.purpose == "alert",
        Delivery.partner_id.is_not(None),
        Delivery.status.in_(_RECEIVED),
    )
    return [
        delivery
        for delivery in db.session.scalars(received)
        if delivery.partner is not None
        and delivery.partner.active
        and (delivery.partner.alert_email or "").strip()
    ]


def revision_counts(alert: Alert) -> dict[str, int]:
    """How many SMS, e-mails and partner e-mails a correction of ``alert`` would queue now
    (said on the confirmation page; the same selection as ``enqueue_revision``)."""
    rows = db.session.execute(
        select(Delivery.channel, func.count())
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(_received_by_subscribers(alert.id))
        .group_by(Delivery.channel)
    ).all()
    counts = {"sms": 0, "email": 0, **{channel: count for channel, count in rows}}
    counts["partners"] = len(_revision_partners(alert.id))
    return counts


def enqueue_revision(
    alert: Alert, purpose: str, version: int, now: dt.datetime | None = None
) -> int:
    """Queue the notice of ``alert``'s version ``version`` (``purpose``: "correction" or
    "update") to those who received the alert; returns the rows written.

    In the caller's transaction; one row per recipient, channel and version (the unique
    constraint), so a second call for the same version writes nothing.
    """
    now = now or utcnow()
    db.session.flush()
    # An older notice still waiting would say the same (messages are rendered at send time).
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.alert_id == alert.id,
            Delivery.purpose.in_(REVISION_PURPOSES),
            Delivery.status == "queued",
            Delivery.alert_version < version,
        )
        .values(status="cancelled", error_code="superseded", updated_at=now)
    )
    subscriber_rows = (
        select(
            literal(alert.id, Integer),
            literal(purpose, String),
            Delivery.recipient_key,
            Delivery.subscriber_id,
            Delivery.channel,
            Subscriber.language,
            literal("queued", String),
            literal(0, Integer),
            literal(now, DateTime),
            _random_key(),
            literal(now, DateTime),
            literal(now, DateTime),
            literal(version, Integer),
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(_received_by_subscribers(alert.id))
    )
    table = Delivery.__table__
    statement = (
        _insert(table)
        .from_select([*_DELIVERY_COLUMNS, "alert_version"], subscriber_rows)
        .on_conflict_do_nothing()
    )
    total = db.session.execute(statement).rowcount or 0
    for received in _revision_partners(alert.id):
        total += _enqueue_partner(alert.id, purpose, received.partner_id, now, version)
    audit.record(
        "alert_revision_enqueued",
        alert,
        details={"version": version, "purpose": purpose, "deliveries": total},
    )
    return total


def enqueue_pending_alerts(now: dt.datetime | None = None) -> int:
    """Safety net: fan out published alerts whose dispatch was requested but never written.

    Alerts requested longer ago than ``DISPATCH_MAX_AGE_HOURS`` are left alone: sending an
    old alert out of the blue when dispatch is first switched on would confuse more than
    help.
    """
    now = now or utcnow()
    hours = int(current_app.config.get("DISPATCH_MAX_AGE_HOURS", 72))
    done = select(AlertDispatch.alert_id).where(AlertDispatch.alert_id == Alert.id)
    statement = select(Alert).where(
        Alert.status == "published",
        Alert.dispatch_requested_at.is_not(None),
        Alert.dispatch_requested_at >= now - dt.timedelta(hours=hours),
        ~done.exists(),
    )
    total = 0
    for alert in db.session.scalars(statement).all():
        total += enqueue_alert(alert, now=now)
    return total
