"""Alert dispatch: the outbox's workers, retries and progress.

The outbox is written by ``services.outbox`` (in the publication's transaction, or the
notices of a subscriber's registration and unsubscription); this module empties it.

Workers (``dispatch_due``: the scheduled job; ``flask --app wsgi dispatch run``: as many
extra processes as wanted) repeat: claim a batch, send it, record the outcomes.

* Claiming selects due rows in queue order and marks them ``sending`` in one short
  transaction, counting the attempt and setting a lease (``next_attempt_at`` = now +
  ``DISPATCH_LEASE_SECONDS``). PostgreSQL selects with ``FOR UPDATE SKIP LOCKED``, so
  concurrent workers take disjoint batches without waiting on each other. SQLite has no row
  locks: its ``UPDATE … RETURNING`` repeats the "due" condition and runs under SQLite's
  single write lock, so a row another worker took meanwhile is not returned (workers take
  turns: slower, equally correct).
* A worker that dies leaves its rows ``sending`` with a lease in the past: the next worker
  claims them again. Records are guarded by (id, ``sending``, attempts), so a worker whose
  lease ran out cannot overwrite the newer claim.
* Exactly one delivery per recipient and alert: the outbox row is unique; and each message is
  recorded before and after it crosses the wire, so a crash never sends it twice. Before
  sending, the row is marked ``crossing`` with a fresh ``attempt_id`` (committed together
  with the previous message's outcome); just before the point of no return (the SMTP
  end-of-data, the SMS request) it is marked ``in_doubt``. A worker that takes over a
  crashed worker's row sends a ``crossing`` one again (it cannot have been accepted), and
  reconciles an ``in_doubt`` one (``_reconcile``): an email is taken as sent under its
  known Message-ID ("unconfirmed"), an SMS goes again with the same client reference when
  the gateway honours references, else is taken as sent. A connection lost after the end
  of data is reconciled the same way. The idempotency key is the email's Message-ID and
  the SMS gateway's client reference.
* Outcomes (``channels.Outcome``): sent; failed for good (a malformed or refused address:
  that delivery alone, with its reason); retry with exponential backoff
  (``DISPATCH_BACKOFF_SECONDS`` × 2^(attempt-1), capped, ±10 % jitter) until
  ``DISPATCH_MAX_ATTEMPTS``; or not attempted (server unreachable, channel not configured):
  back in the queue after ``DISPATCH_OUTAGE_DELAY_SECONDS`` without spending an attempt, so
  an outage does not exhaust anyone's attempts. Whatever is not sent after
  ``DISPATCH_GIVE_UP_HOURS`` fails as "too late" (a moderator can retry it).
* Before sending, a delivery is cancelled if its alert was retracted or expired, or its
  subscriber paused or unsubscribed meanwhile.
* Contacts are decrypted for sending without one audit event per message; each batch
  writes one ``dispatch_batch`` event with its counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import (
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import selectinload

from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.dispatch import REVISION_PURPOSES, AlertDispatch, Delivery
from backoffice.models.staff_notice import StaffNotice
from backoffice.models.subscriber import Subscriber
from backoffice.security import OutOfScope
from backoffice.services import audit, channels, mailer, staff_notices
from backoffice.services.alert_text import (
    render_email,
    render_revision_email,
    render_revision_sms,
    render_sms,
    render_subscription_sms,
    render_unsubscribed_sms,
)
from backoffice.services.alerts import content_of
from backoffice.services.crypto import DecryptionError, UnknownKeyError
from backoffice.services.outbox import PARTNER_LANGUAGE, enqueue_pending_alerts
from backoffice.services.subscribers import contact_for_dispatch, unsubscribe_url
from backoffice.services.worker_texts import discreet_alert_sms, manage_notice_sms
from backoffice.transactions import checkpoint

log = logging.getLogger(__name__)

# Rendered once per alert and language, then the subscriber's own link is put in its place.
_LINK_PLACEHOLDER = "UNSUBSCRIBE-LINK-3f1c9a"
# A batch that ran out of time gives its rest back for the next claim, with no delay.
TIME_UP = "worker_time_up"


def _dialect() -> str:
    return db.session.get_bind().dialect.name


# --- claiming ----------------------------------------------------------------------------------


def claim(
    limit: int, now: dt.datetime | None = None, lease_seconds: int | None = None
) -> list[tuple[int, int]]:
    """Take up to ``limit`` due deliveries for this worker: [(id, attempts)], committed."""
    now = now or utcnow()
    config = current_app.config
    lease = dt.timedelta(seconds=lease_seconds or int(config["DISPATCH_LEASE_SECONDS"]))
    claimed: list[tuple[int, int]] = []
    # Queued rows first, then rows whose worker's lease ran out (it crashed or hung).
    for status in ("queued", "sending"):
        if len(claimed) >= limit:
            break
        claimed += _claim_status(status, limit - len(claimed), now, now + lease)
    checkpoint()  # the claim must be visible to other workers before sending starts
    return claimed


def _claim_status(
    status: str, limit: int, now: dt.datetime, lease_end: dt.datetime
) -> list[tuple[int, int]]:
    """Claim due rows of one status, in queue order: [(id, attempts after claiming)].

    PostgreSQL: the SELECT locks its rows (``FOR UPDATE SKIP LOCKED``) until the commit, so
    the UPDATE gets them all and concurrent workers skip them. SQLite: the SELECT takes no
    lock; the UPDATE repeats the "due" condition, so a row another worker claimed in between
    is simply not returned (SQLite runs one writer at a time).
    """
    table = Delivery.__table__
    due = and_(table.c.status == status, table.c.next_attempt_at <= now)
    candidates = (
        select(table.c.id).where(due).order_by(table.c.next_attempt_at, table.c.id).limit(limit)
    )
    if _dialect() == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(candidates))
    if not ids:
        return []
    statement = (
        update(table)
        .where(table.c.id.in_(ids), due)
        .values(
            status="sending",
            attempts=table.c.attempts + 1,
            next_attempt_at=lease_end,
            updated_at=now,
        )
        .returning(table.c.id, table.c.attempts)
    )
    taken = dict(db.session.execute(statement).tuples().all())
    return [(delivery_id, taken[delivery_id]) for delivery_id in ids if delivery_id in taken]


# --- sending -----------------------------------------------------------------------------------


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    cancelled: int = 0

    def add(self, other: DispatchStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    delivery_id: int
    attempts: int
    channel: str
    message: object  # channels.OutgoingEmail | channels.OutgoingSms
    attempt_id: str | None = None


@dataclass
class _Batch:
    now: dt.datetime
    config: dict
    deadline: float
    results: list[tuple[int, int, channels.Outcome]] = field(default_factory=list)
    stats: DispatchStats = field(default_factory=DispatchStats)
    contacts_read: int = 0


# Builds the printable sheet attached to partners' emails: (contents, language, check_url=…)
# -> PDF bytes. Rules never import the PDF package: the job or command that runs the
# dispatch passes ``reports_pdf.alert_sheet.build_alert_sheet``.
SheetBuilder = Callable[..., bytes]


class _Renderer:
    """Alert texts rendered once per alert and language for a batch."""

    def __init__(self, config, partner_sheet: SheetBuilder | None = None) -> None:
        self.config = config
        self.partner_sheet = partner_sheet
        self._contents: dict[int, object] = {}
        self._sms: dict[tuple[int, str], str] = {}
        self._email: dict[tuple[int, str], tuple[str, str]] = {}
        self._sheets: dict[int, bytes | None] = {}

    def content(self, alert: Alert):
        if alert.id not in self._contents:
            self._contents[alert.id] = content_of(alert)
        return self._contents[alert.id]

    def sms(self, alert: Alert, language: str) -> str:
        key = (alert.id, language)
        if key not in self._sms:
            self._sms[key] = render_sms(self.content(alert), language)
        return self._sms[key]

    def email(self, alert: Alert, language: str, link: str) -> tuple[str, str]:
        key = (alert.id, language)
        if key not in self._email:
            self._email[key] = render_email(
                self.content(alert),
                language,
                _LINK_PLACEHOLDER,
                self.config["ALERT_PROGRAMME_NAME"],
                check_url=self.config.get("ALERT_CHECK_URL"),
            )
        subject, body = self._email[key]
        return subject, body.replace(_LINK_PLACEHOLDER, link)

    def sheet(self, alert: Alert) -> bytes | None:
        """The printable sheet for partners; None without a builder, or (with a warning) if
        it cannot be built."""
        if self.partner_sheet is None:
            return None
        if alert.id not in self._sheets:
            try:
                self._sheets[alert.id] = self.partner_sheet(
                    [self.content(alert)],
                    PARTNER_LANGUAGE,
                    check_url=self.config.get("ALERT_CHECK_URL"),
                )
            except Exception:  # the email goes without the sheet rather than not at all
                log.warning("Alert sheet of %s could not be built", alert.reference, exc_info=True)
                self._sheets[alert.id] = None
        return self._sheets[alert.id]


def dispatch_due(
    now: dt.datetime | None = None,
    *,
    max_seconds: float | None = None,
    partner_sheet: SheetBuilder | None = None,
) -> DispatchStats:
    """Enqueue what publication left, then send due deliveries (the job ``jobs.dispatch``
    and ``flask --app wsgi dispatch run``).

    Stops when nothing is due or after ``DISPATCH_TIME_BUDGET_SECONDS`` (the next run goes
    on). ``partner_sheet`` builds the PDF attached to partners' emails (none without it).
    ``now`` is for tests (retries are due "later"). Each batch is committed as it goes.
    """
    config = current_app.config
    enqueue_pending_alerts(now)
    checkpoint()
    budget = max_seconds if max_seconds is not None else config["DISPATCH_TIME_BUDGET_SECONDS"]
    stop_at = time.monotonic() + float(budget)
    total = DispatchStats()
    while time.monotonic() < stop_at:
        batch_now = now or utcnow()
        claimed = claim(int(config["DISPATCH_BATCH_SIZE"]), batch_now)
        if not claimed:
            break
        total.add(send_claimed(claimed, batch_now, partner_sheet))
    return total


def send_claimed(
    claimed: list[tuple[int, int]], now: dt.datetime, partner_sheet: SheetBuilder | None = None
) -> DispatchStats:
    """Send a claimed batch and record every outcome."""
    config = current_app.config
    lease = float(config["DISPATCH_LEASE_SECONDS"])
    # Stop sending well before the lease ends, so no other worker takes these rows meanwhile.
    batch = _Batch(now=now, config=config, deadline=time.monotonic() + lease * 0.75)
    batch.stats.claimed = len(claimed)
    attempts = dict(claimed)
    order = {delivery_id: position for position, (delivery_id, _) in enumerate(claimed)}
    # Sent in the order claimed: the longest-waiting first.
    deliveries = sorted(_load(list(order)), key=lambda delivery: order[delivery.id])
    renderer = _Renderer(config, partner_sheet)
    by_channel: dict[str, list[_Prepared]] = defaultdict(list)
    for delivery in deliveries:
        prepared = _prepare(delivery, attempts[delivery.id], renderer, batch)
        if prepared is not None:
            by_channel[prepared.channel].append(prepared)
    _flush_results(batch)
    for channel_name, items in by_channel.items():
        _send_channel(channel_name, items, batch)
    _flush_results(batch)
    _audit_batch(batch)
    checkpoint()
    return batch.stats


def _load(ids: list[int]) -> list[Delivery]:
    statement = (
        select(Delivery)
        .where(Delivery.id.in_(ids))
        .options(
            selectinload(Delivery.subscriber).selectinload(Subscriber.data_key),
            selectinload(Delivery.subscriber).selectinload(Subscriber.department_rows),
            selectinload(Delivery.alert),
            selectinload(Delivery.partner),
            selectinload(Delivery.staff_notice).selectinload(StaffNotice.user),
        )
    )
    return list(db.session.scalars(statement))


def _cancel_reason(delivery: Delivery) -> str | None:
    if delivery.purpose == "staff":
        return staff_notices.cancel_reason(delivery.staff_notice, delivery.channel)
    if delivery.purpose in ("alert", *REVISION_PURPOSES) and (
        delivery.alert is None or delivery.alert.status != "published"
    ):
        return "alert_withdrawn"
    if delivery.partner_id is not None:
        partner = delivery.partner
        if partner is None or not partner.active or not (partner.alert_email or "").strip():
            return "partner_no_email"
        return None
    subscriber = delivery.subscriber
    if subscriber is None:
        return "recipient_gone"
    if subscriber.status != "active" and delivery.purpose != "goodbye":
        return f"subscriber_{subscriber.status}"
    index = subscriber.phone_index if delivery.channel == "sms" else subscriber.email_index
    if index is None:
        return "no_contact"
    return None


def _prepare(delivery: Delivery, attempts: int, renderer: _Renderer, batch: _Batch):
    """The message to send, or None once an outcome is recorded (cancelled, failed, or a
    crashed worker's send reconciled)."""
    outcome = _reconcile(delivery, batch) or _refusal(delivery, attempts, batch)
    if outcome is None:
        try:
            message = _message(delivery, renderer, batch)
            return _Prepared(delivery.id, attempts, delivery.channel, message)
        except DecryptionError:
            outcome = channels.Outcome(channels.FAILED, "contact_unreadable", "Contact erased.")
        except UnknownKeyError as error:
            # The key file lacks a key (a rotation not deployed here): the contact exists,
            # so the delivery waits in the queue without spending an attempt.
            log.error("Delivery %s waits for a key: %s", delivery.id, error)
            outcome = channels.Outcome(channels.NOT_ATTEMPTED, "key_unavailable", str(error))
        except Exception as error:
            # A bug must fail this delivery, visibly, not the batch (nor loop forever).
            _log_error(f"Delivery {delivery.id} could not be prepared", error)
            outcome = channels.Outcome(channels.FAILED, "internal_error", type(error).__name__)
    batch.results.append((delivery.id, attempts, outcome))
    return None


def _log_error(what: str, error: Exception) -> None:
    """Where it broke (code lines), not the message: it could quote an address."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("%s: %s\n%s", what, type(error).__name__, frames)


def _refusal(delivery: Delivery, attempts: int, batch: _Batch) -> channels.Outcome | None:
    reason = _cancel_reason(delivery)
    if reason:
        return channels.Outcome("cancelled", reason)
    give_up = dt.timedelta(hours=int(batch.config["DISPATCH_GIVE_UP_HOURS"]))
    if delivery.created_at < batch.now - give_up:
        hours = give_up.total_seconds() / 3600
        return channels.Outcome(channels.FAILED, "too_late", f"Not sent within {hours:.0f} h.")
    if attempts > int(batch.config["DISPATCH_MAX_ATTEMPTS"]):
        # Claimed more often than retries allow: its workers died on it each time.
        return channels.Outcome(channels.FAILED, "too_many_attempts", f"{attempts} claims.")
    return None


def _message(delivery: Delivery, renderer: _Renderer, batch: _Batch):
    key = delivery.idempotency_key
    if delivery.purpose == "staff":
        batch.contacts_read += 1
        return _staff_message(delivery)
    if delivery.partner_id is not None:
        alert = delivery.alert
        link = batch.config["PUBLIC_BASE_URL"].rstrip("/") + "/"
        subject, body = _email_text(delivery, renderer, PARTNER_LANGUAGE, link)
        sheet = renderer.sheet(alert)
        attachments = [mailer.Attachment(f"{alert.reference}.pdf", sheet, "application/pdf")]
        return channels.OutgoingEmail(
            to=delivery.partner.alert_email.strip(),
            subject=subject,
            body=body,
            key=key,
            language=PARTNER_LANGUAGE,
            attachments=attachments if sheet else [],
        )
    subscriber = delivery.subscriber
    language = delivery.language
    batch.contacts_read += 1
    if delivery.channel == "sms":
        return channels.OutgoingSms(
            to=contact_for_dispatch(subscriber, "phone"),
            text=_sms_text(delivery, subscriber, renderer),
            key=key,
            language=language,
        )
    link = unsubscribe_url(subscriber)
    subject, body = _email_text(delivery, renderer, language, link)
    return channels.OutgoingEmail(
        to=contact_for_dispatch(subscriber, "email"),
        subject=subject,
        body=body,
        key=key,
        language=language,
        unsubscribe_url=link,
    )


def _staff_message(delivery: Delivery):
    """A notice to a staff user: level, what, reference and link (``staff_notices.render``)."""
    notice = delivery.staff_notice
    subject, body, sms = staff_notices.render(notice)
    to = staff_notices.contact_of(notice, delivery.channel)
    if delivery.channel == "sms":
        return channels.OutgoingSms(
            to=to, text=sms, key=delivery.idempotency_key, language=delivery.language
        )
    return channels.OutgoingEmail(
        to=to, subject=subject, body=body, key=delivery.idempotency_key, language=delivery.language
    )


def _email_text(
    delivery: Delivery, renderer: _Renderer, language: str, link: str
) -> tuple[str, str]:
    """The alert's email; for a correction or an update, introduced by a sentence saying so
    (the alert is rendered as it reads now: a notice always carries the corrected text)."""
    subject, body = renderer.email(delivery.alert, language, link)
    if delivery.purpose in REVISION_PURPOSES:
        content = renderer.content(delivery.alert)
        return render_revision_email(content, language, delivery.purpose, subject, body)
    return subject, body


def _sms_text(delivery: Delivery, subscriber: Subscriber, renderer: _Renderer) -> str:
    if delivery.purpose == "welcome":
        departments = ["France"] if subscriber.all_departments else subscriber.departments
        return render_subscription_sms(departments, delivery.language)
    if delivery.purpose == "goodbye":
        return render_unsubscribed_sms(delivery.language)
    if delivery.purpose == "manage":
        config = renderer.config
        return manage_notice_sms(
            delivery.language, config["ALERT_PROGRAMME_NAME"], config["OUTREACH_REGISTER_URL"]
        )
    if subscriber.discreet:
        # Nothing a lock screen should show: a neutral line, the reference, where to read it.
        link = renderer.config.get("DISCREET_ALERT_URL") or renderer.config["PUBLIC_BASE_URL"]
        return discreet_alert_sms(delivery.language, delivery.alert.reference, link)
    if delivery.purpose in REVISION_PURPOSES:
        content = renderer.content(delivery.alert)
        return render_revision_sms(content, delivery.language, delivery.purpose)
    return renderer.sms(delivery.alert, delivery.language)


def _channel(name: str, config):
    return channels.sms_gateway(config) if name == "sms" else channels.email_channel(config)


def _send_channel(name: str, items: list[_Prepared], batch: _Batch) -> None:
    """Send one channel's share of the batch over one session, reopening it once if lost.

    Each message is recorded before it crosses the wire (``crossing``, with its attempt id,
    committed together with the previous message's outcome) and again just before its
    point of no return (``in_doubt``): a worker killed at any moment leaves a row that says
    whether its message may have gone (see ``_reconcile``)."""
    channel = _channel(name, batch.config)
    remaining = list(items)
    reopened = False
    try:
        with channel.session() as session:
            while remaining:
                item = remaining[0]
                if time.monotonic() > batch.deadline:
                    _release(remaining, TIME_UP, "The batch ran out of time.", batch)
                    return
                remaining.pop(0)
                if not _mark_crossing(item, batch):
                    continue  # our lease ran out and another worker has this row now
                outcome = _send_one(session, item)
                _result(item, outcome, batch)
                if outcome.channel_down and remaining:
                    if reopened:
                        _release(remaining, outcome.code, outcome.detail, batch)
                        return
                    reopened = True
                    session.reopen()
    except channels.ChannelUnavailable as unavailable:
        _release(remaining, unavailable.code, unavailable.detail, batch)


def _send_one(session, item: _Prepared) -> channels.Outcome:
    try:
        return session.send(item.message, at_point_of_no_return=lambda: _mark_in_doubt(item))
    except Exception as error:
        _log_error(f"Delivery {item.delivery_id}: error in the channel", error)
        return channels.Outcome(
            channels.RETRY, "internal_error", type(error).__name__, channel_down=True
        )


def _mark_crossing(item: _Prepared, batch: _Batch) -> bool:
    """Record (with the outcomes not yet written) that this message is about to be sent;
    False when the row is no longer this worker's claim."""
    _write_results(batch)
    item.attempt_id = uuid.uuid4().hex
    taken = _mark(item, "crossing")
    checkpoint()
    return taken


def _mark_in_doubt(item: _Prepared) -> None:
    """Just before the point of no return: from here, a crash leaves a message that may
    have been accepted."""
    _mark(item, "in_doubt")
    checkpoint()


def _mark(item: _Prepared, state: str) -> bool:
    table = Delivery.__table__
    result = db.session.execute(
        update(table)
        .where(
            table.c.id == item.delivery_id,
            table.c.status == "sending",
            table.c.attempts == item.attempts,
        )
        .values(attempt_id=item.attempt_id, wire_state=state)
    )
    return result.rowcount == 1


def _reconcile(delivery: Delivery, batch: _Batch) -> channels.Outcome | None:
    """The outcome of a send left in doubt (a crashed worker, a connection lost after the
    end of data), or None to send (again).

    ``crossing``: the message had not reached its point of no return: send it. ``in_doubt``:
    it may have been accepted. An SMS goes again with the same reference when the gateway
    honours references (it counts it once), else is taken as sent. An email is looked up by
    its known Message-ID (``channels.reconcile_email``): accepted, it is recorded as sent
    ("unconfirmed"); not accepted, it is sent; unknown, it waits and is asked again.
    """
    if delivery.wire_state != "in_doubt":
        return None
    unconfirmed = "Taken as sent: it may have been accepted before the answer was lost."
    if delivery.channel == "sms":
        if channels.sms_gateway(batch.config).honours_reference:
            return None
        return channels.Outcome(channels.SENT, channels.UNCONFIRMED, unconfirmed)
    known = channels.message_id(delivery.idempotency_key, batch.config)
    accepted = channels.reconcile_email(known, batch.config)
    if accepted is None:
        detail = "The mail relay could not say whether it holds the message; asked again."
        return channels.Outcome(channels.NOT_ATTEMPTED, "reconcile_unavailable", detail)
    if not accepted:
        return None
    return channels.Outcome(channels.SENT, channels.UNCONFIRMED, unconfirmed, provider_id=known)


def _result(item: _Prepared, outcome: channels.Outcome, batch: _Batch) -> None:
    batch.results.append((item.delivery_id, item.attempts, outcome))
    if len(batch.results) >= int(batch.config["DISPATCH_COMMIT_EVERY"]):
        _flush_results(batch)


def _release(items: list[_Prepared], code: str | None, detail: str | None, batch: _Batch) -> None:
    """Put unsent messages back in the queue, their attempt given back."""
    for item in items:
        outcome = channels.Outcome(channels.NOT_ATTEMPTED, code, detail)
        batch.results.append((item.delivery_id, item.attempts, outcome))
    items.clear()
    _flush_results(batch)


# --- recording ---------------------------------------------------------------------------------


def backoff(attempts: int, config) -> dt.timedelta:
    """Delay before the next attempt after ``attempts`` tries: exponential, capped, jittered."""
    base = float(config["DISPATCH_BACKOFF_SECONDS"])
    ceiling = float(config["DISPATCH_BACKOFF_MAX_SECONDS"])
    seconds = min(ceiling, base * (2 ** max(0, attempts - 1)))
    return dt.timedelta(seconds=seconds * random.uniform(0.9, 1.1))  # noqa: S311 - jitter only


def _row(delivery_id: int, attempts: int, outcome: channels.Outcome, batch: _Batch) -> dict:
    config, now = batch.config, batch.now
    row = {
        "b_id": delivery_id,
        "b_attempts": attempts,
        "b_new_attempts": attempts,
        "b_status": outcome.status,
        "b_next": now,
        "b_code": outcome.code,
        "b_error": (outcome.detail or None) and outcome.detail[:255],
        "b_sent_at": None,
        "b_provider": None,
        "b_segments": outcome.segments,
        "b_now": now,
        # Still in doubt: the next attempt reconciles before it sends anything.
        "b_wire": "in_doubt"
        if outcome.code in (channels.IN_DOUBT, "reconcile_unavailable")
        else None,
    }
    stats = batch.stats
    if outcome.status == channels.SENT:
        row.update(
            b_sent_at=now,
            b_provider=(outcome.provider_id or "")[:120] or None,
            b_code=outcome.code,  # None, or "unconfirmed" (taken as sent, never resent)
        )
        stats.sent += 1
    elif outcome.status == "cancelled":
        stats.cancelled += 1
    elif outcome.status == channels.FAILED:
        stats.failed += 1
    elif outcome.status == channels.RETRY:
        if attempts >= int(config["DISPATCH_MAX_ATTEMPTS"]):
            row.update(
                b_status="failed",
                b_error=f"Gave up after {attempts} attempts. {outcome.detail or ''}"[:255],
            )
            stats.failed += 1
        else:
            row.update(b_status="queued", b_next=now + backoff(attempts, config))
            stats.retried += 1
    else:  # not attempted: back in the queue, the attempt given back
        delay = 0.0 if outcome.code == TIME_UP else float(config["DISPATCH_OUTAGE_DELAY_SECONDS"])
        row.update(
            b_status="queued",
            b_new_attempts=attempts - 1,
            b_next=now + dt.timedelta(seconds=delay),
        )
        stats.released += 1
    return row


_RECORD = None


def _record_statement():
    global _RECORD
    if _RECORD is None:
        table = Delivery.__table__
        _RECORD = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.status == "sending",
                table.c.attempts == bindparam("b_attempts"),
            )
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_new_attempts"),
                next_attempt_at=bindparam("b_next"),
                error_code=bindparam("b_code"),
                last_error=bindparam("b_error"),
                sent_at=bindparam("b_sent_at"),
                provider_message_id=bindparam("b_provider"),
                segments=bindparam("b_segments"),
                updated_at=bindparam("b_now"),
                wire_state=bindparam("b_wire"),
            )
        )
    return _RECORD


def _write_results(batch: _Batch) -> None:
    if not batch.results:
        return
    rows = [_row(d, a, o, batch) for d, a, o in batch.results]
    batch.results.clear()
    db.session.execute(_record_statement(), rows)


def _flush_results(batch: _Batch) -> None:
    if batch.results:
        _write_results(batch)
        checkpoint()


def _audit_batch(batch: _Batch) -> None:
    stats = batch.stats
    audit.record(
        "dispatch_batch",
        object_type="Delivery",
        details={
            "claimed": stats.claimed,
            "sent": stats.sent,
            "failed": stats.failed,
            "retried": stats.retried,
            "released": stats.released,
            "cancelled": stats.cancelled,
            "contacts_read": batch.contacts_read,
        },
    )


# --- progress and retries (the delivery view) --------------------------------------------------


def recent_dispatches(limit: int = 100) -> tuple[list, dict[int, dict[str, int]]]:
    """The latest dispatched alerts, newest first, as (alert, AlertDispatch) pairs, and per
    alert the number of deliveries in each status."""
    rows = db.session.execute(
        select(Alert, AlertDispatch)
        .join(AlertDispatch, AlertDispatch.alert_id == Alert.id)
        .order_by(AlertDispatch.enqueued_at.desc())
        .limit(limit)
    ).all()
    counts: dict[int, dict[str, int]] = {alert.id: {} for alert, _dispatch in rows}
    if counts:
        for alert_id, status, count in db.session.execute(
            select(Delivery.alert_id, Delivery.status, func.count())
            .where(Delivery.alert_id.in_(counts))
            .group_by(Delivery.alert_id, Delivery.status)
        ):
            counts[alert_id][status] = count
    return rows, counts


def dispatched_alert(alert_id: int) -> Alert:
    """An alert, for the delivery pages (``OutOfScope``, a 404, when there is none)."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise OutOfScope("Alert")
    return alert


def progress(alert_id: int) -> dict:
    """Counts by status (and by channel) for one alert; ``done`` once nothing is pending."""
    rows = db.session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.alert_id == alert_id)
        .group_by(Delivery.channel, Delivery.status)
    ).all()
    statuses = Counter()
    by_channel: dict[str, Counter] = defaultdict(Counter)
    for channel, status, count in rows:
        statuses[status] += count
        by_channel[channel][status] += count
    total = sum(statuses.values())
    pending = statuses["queued"] + statuses["sending"]
    finished = total - pending
    dispatch = db.session.get(AlertDispatch, alert_id)
    return {
        "alert_id": alert_id,
        "enqueued": dispatch is not None,
        "total": total,
        "queued": statuses["queued"],
        "sending": statuses["sending"],
        "sent": statuses["sent"],
        "failed": statuses["failed"],
        "cancelled": statuses["cancelled"],
        "done": dispatch is not None and pending == 0,
        "percent": round(100 * finished / total) if total else (100 if dispatch else 0),
        "by_channel": {channel: dict(counter) for channel, counter in by_channel.items()},
    }


def failure_reasons(alert_id: int) -> list[dict]:
    """Failed and waiting deliveries grouped by channel and reason, with one example text."""
    rows = db.session.execute(
        select(
            Delivery.status,
            Delivery.channel,
            Delivery.error_code,
            func.count(),
            func.max(Delivery.last_error),
        )
        .where(
            Delivery.alert_id == alert_id,
            Delivery.error_code.is_not(None),
            Delivery.status.in_(("failed", "queued", "cancelled")),
        )
        .group_by(Delivery.status, Delivery.channel, Delivery.error_code)
        .order_by(Delivery.status, func.count().desc())
    ).all()
    return [
        {"status": s, "channel": c, "code": code, "count": n, "example": example}
        for s, c, code, n, example in rows
    ]


def failed_deliveries(alert_id: int, limit: int = 200) -> list[Delivery]:
    statement = (
        select(Delivery)
        .where(Delivery.alert_id == alert_id, Delivery.status == "failed")
        .order_by(Delivery.updated_at.desc())
        .limit(limit)
        .options(selectinload(Delivery.subscriber), selectinload(Delivery.partner))
    )
    return list(db.session.scalars(statement))


def retry_failed(alert_id: int, actor=None, now: dt.datetime | None = None) -> int:
    """Queue an alert's failed deliveries again with fresh attempts; returns how many."""
    now = now or utcnow()
    table = Delivery.__table__
    result = db.session.execute(
        update(table)
        .where(table.c.alert_id == alert_id, table.c.status == "failed")
        # created_at restarts too: the "too late" limit counts from this new start.
        .values(status="queued", attempts=0, next_attempt_at=now, created_at=now, updated_at=now)
    )
    count = result.rowcount or 0
    audit.record(
        "deliveries_retried",
        object_type="Alert",
        object_id=alert_id,
        details={"count": count},
        actor=actor,
    )
    return count
