"""A worker's own door: self-registration with a code, her token, her preferences.

Rules, and why (API.md, "Additions for workers"):

* No oracle. ``request_code`` answers nothing: the caller says "code sent" whether or not
  the number is registered. A new number gets a 6-digit code; a number already registered
  gets a "manage your subscription" message whose code opens her existing subscription
  (verify then creates nothing, and returns a token for that subscription). Only the owner
  of the number learns which.
* Codes: 6 digits, valid ``REGISTRATION_CODE_MINUTES`` (10), 5 tries; stored as a keyed
  HMAC (a plain hash of a 6-digit code is reversed in a millisecond), compared in constant
  time. A 6th request for the same number within an hour sends nothing more (no SMS
  bombing), silently.
* A partner's referral code (``Organisation.referral_code``) puts her registration in that
  partner's organisation, validated at once; otherwise she belongs to the programme's
  organisation (the first active one of kind ``programme``) and is active once verified.
* Her token (``wt_…``) is shown once and stored as its SHA-256 (it is 256 random bits: a
  plain hash is enough). Unsubscribing revokes every token of hers and erases her contact.
* Nothing here logs or audits a number, an address, a code or a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select, update

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.organisation import Organisation
from backoffice.models.subscriber import Subscriber
from backoffice.models.worker_access import PendingRegistration, WorkerToken
from backoffice.services import audit, channels, identifiers, subscribers
from backoffice.services.confidential import keyring
from backoffice.services.crypto import DecryptionError
from backoffice.services.worker_texts import registration_message

log = logging.getLogger(__name__)

CODE_KIND = "registration-code"
MAX_CODE_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 5
TOKEN_PREFIX = "wt_"  # noqa: S105 - a prefix, not a secret
TOKEN_MAX_LENGTH = 100
WORKER_SOURCE = "worker"  # UNSUBSCRIBE_SOURCES: she left through the app or site


class CodeRefused(Exception):
    """A wrong, expired or exhausted code (the same for each: nothing to learn from it)."""


class PreferenceRefused(Exception):
    """A change that cannot apply to her subscription; ``errors`` by field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("refused")
        self.errors = errors


@dataclass(frozen=True)
class Registration:
    """A valid registration body, contact normalised (never log)."""

    channel: str
    phone: str | None
    email: str | None
    language: str
    departments: list[str]
    all_departments: bool
    discreet: bool
    referral_code: str | None = None

    @property
    def contact(self) -> str:
        return self.phone if self.channel == "sms" else self.email


def contact_index(channel: str, contact: str) -> str:
    if channel == "sms":
        return subscribers.phone_index(contact)
    return subscribers.email_index(contact)


def _code_hash(index: str, code: str) -> str:
    return keyring().blind_index(CODE_KIND, f"{index}:{code}")


def _minutes() -> int:
    return int(current_app.config.get("REGISTRATION_CODE_MINUTES", 10))


def code_lifetime_seconds() -> int:
    return _minutes() * 60


# --- registration ------------------------------------------------------------------------------


def _holder(index: str) -> Subscriber | None:
    """The subscriber registered with this number or address, unless she left."""
    holder = db.session.scalar(
        select(Subscriber).where(
            (Subscriber.phone_index == index) | (Subscriber.email_index == index)
        )
    )
    return holder if holder is not None and holder.status != "unsubscribed" else None


def _referrer(code: str | None) -> Organisation | None:
    if not code:
        return None
    return db.session.scalar(
        select(Organisation).where(
            Organisation.referral_code == code.strip(), Organisation.active.is_(True)
        )
    )


def request_code(data: Registration, *, now: dt.datetime | None = None) -> None:
    """Record the registration and send her a code (or the "manage" message). Says nothing
    about what happened: the caller answers "code sent" whatever the case."""
    now = now or utcnow()
    index = contact_index(data.channel, data.contact)
    recent = db.session.scalar(
        select(func.count()).where(
            PendingRegistration.contact_index == index,
            PendingRegistration.created_at > now - dt.timedelta(hours=1),
        )
    )
    if recent >= MAX_CODES_PER_HOUR:
        audit.record("registration_code_withheld", object_type="PendingRegistration")
        return
    # A new code voids the earlier ones: only the latest message is worth typing.
    db.session.execute(
        update(PendingRegistration)
        .where(PendingRegistration.contact_index == index)
        .values(attempts=MAX_CODE_ATTEMPTS)
    )
    holder = _holder(index)
    referrer = _referrer(data.referral_code)
    code = f"{secrets.randbelow(10**6):06d}"
    pending = PendingRegistration(
        contact_index=index,
        channel=data.channel,
        language=data.language,
        departments=list(data.departments),
        all_departments=data.all_departments,
        discreet=data.discreet,
        referred_by_id=referrer.id if referrer else None,
        subscriber_id=holder.id if holder else None,
        code_hash=_code_hash(index, code),
        attempts=0,
        expires_at=now + dt.timedelta(minutes=_minutes()),
        created_at=now,
    )
    db.session.add(pending)
    db.session.flush()
    language = holder.language if holder else data.language
    _send_code(data.channel, data.contact, language, code, existing=holder is not None)
    audit.record("registration_code_sent", pending, details={"channel": data.channel})


def _send_code(channel: str, contact: str, language: str, code: str, *, existing: bool) -> None:
    """Send now: the code cannot wait in the outbox (it is stored only as a hash)."""
    config = current_app.config
    subject, text = registration_message(
        language, code, config["ALERT_PROGRAMME_NAME"], existing=existing
    )
    key = secrets.token_hex(16)
    if channel == "sms":
        transport = channels.sms_gateway(config)
        message = channels.OutgoingSms(to=contact, text=text, key=key, language=language)
    else:
        transport = channels.email_channel(config)
        message = channels.OutgoingEmail(
            to=contact, subject=subject, body=text, key=key, language=language
        )
    try:
        with transport.session() as session:
            outcome = session.send(message)
    except channels.ChannelUnavailable as unavailable:
        outcome = channels.Outcome(channels.NOT_ATTEMPTED, unavailable.code)
    if outcome.status != channels.SENT:
        # She asks again; the answer stays "code sent" (it says nothing about the number).
        log.warning("Registration code not sent on %s (%s)", channel, outcome.code)


def verify(channel: str, contact: str, code: str, *, now: dt.datetime | None = None) -> str:
    """Her subscription, new or existing, and a fresh token for it; ``CodeRefused`` for a
    wrong, expired or exhausted code (each try counts, committed by the caller)."""
    now = now or utcnow()
    index = contact_index(channel, contact)
    pending = db.session.scalar(
        select(PendingRegistration)
        .where(PendingRegistration.contact_index == index)
        .order_by(PendingRegistration.created_at.desc(), PendingRegistration.id.desc())
        .limit(1)
        .with_for_update()
    )
    # The hash is computed whatever was found, so a missing registration takes as long.
    offered = _code_hash(index, code)
    usable = (
        pending is not None and pending.expires_at > now and pending.attempts < MAX_CODE_ATTEMPTS
    )
    if not usable or not hmac.compare_digest(pending.code_hash, offered):
        if usable:
            pending.attempts += 1
        audit.record("registration_code_refused", object_type="PendingRegistration")
        raise CodeRefused()
    subscriber = _subscription_for(pending, channel, contact, now)
    db.session.execute(
        delete(PendingRegistration).where(PendingRegistration.contact_index == index)
    )
    token = issue_token(subscriber, now=now)
    audit.record("registration_verified", subscriber)
    return token


def _programme_organisation() -> Organisation:
    organisation = db.session.scalar(
        select(Organisation)
        .where(Organisation.kind == "programme", Organisation.active.is_(True))
        .order_by(Organisation.id)
        .limit(1)
    )
    if organisation is None:
        raise RuntimeError("No active organisation of kind 'programme' takes registrations.")
    return organisation


def _subscription_for(
    pending: PendingRegistration, channel: str, contact: str, now: dt.datetime
) -> Subscriber:
    # The "manage" code, or a number registered since the code was sent: her subscription
    # as it is (never a second one).
    existing = _holder(pending.contact_index)
    if existing is not None:
        return existing
    organisation_id = pending.referred_by_id or _programme_organisation().id
    data = subscribers.SubscriberData(
        pseudonym=f"web-{secrets.token_hex(3)}",  # staff need a name; hers is not asked
        phone=contact if channel == "sms" else None,
        email=contact if channel == "email" else None,
        language=pending.language,
        departments=[] if pending.all_departments else list(pending.departments),
        all_departments=pending.all_departments,
    )
    subscriber = subscribers.register(data, organisation_id, validate_now=True, now=now)
    subscriber.discreet = pending.discreet
    subscriber.channel = channel
    return subscriber


# --- tokens ------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(subscriber: Subscriber, *, now: dt.datetime | None = None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        WorkerToken(subscriber_id=subscriber.id, token_hash=_token_hash(token), created_at=now)
    )
    return token


def subscriber_for_token(token: str | None) -> Subscriber | None:
    """The subscriber a live token belongs to (None: unknown, revoked, or she left)."""
    if not token or len(token) > TOKEN_MAX_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    row = db.session.scalar(
        select(WorkerToken).where(
            WorkerToken.token_hash == _token_hash(token), WorkerToken.revoked_at.is_(None)
        )
    )
    if row is None or row.subscriber is None or row.subscriber.status == "unsubscribed":
        return None
    return row.subscriber


def revoke_tokens(subscriber: Subscriber, *, now: dt.datetime | None = None) -> None:
    db.session.execute(
        update(WorkerToken)
        .where(WorkerToken.subscriber_id == subscriber.id, WorkerToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )


# --- her subscription --------------------------------------------------------------------------


def _masked_phone(phone: str) -> str:
    """``+33 6 12 ** ** 78``: enough for her to recognise it, not to read it."""
    groups = identifiers.display("phone", phone).split(" ")
    if len(groups) < 4:
        return groups[0][:4] + "*" * max(0, len(phone) - 6) + phone[-2:]
    middle = ["*" * len(g) for g in groups[3:-1]]
    return " ".join([*groups[:3], *middle, groups[-1]])


def _masked_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def describe(subscriber: Subscriber) -> dict:
    """What ``GET /me`` answers (her contact masked; reading it is an audited decryption)."""
    try:
        phone, email = subscriber.phone, subscriber.email
    except DecryptionError:
        phone = email = None
    return {
        "language": subscriber.language,
        "departments": ["all"] if subscriber.all_departments else subscriber.departments,
        "channel": subscriber.channel or (subscriber.channels or ["sms"])[0],
        "discreet": subscriber.discreet,
        "paused": subscriber.status == "paused",
        "contact": {
            "phone": _masked_phone(phone) if phone else None,
            "email": _masked_email(email) if email else None,
        },
    }


def change(subscriber: Subscriber, changes: dict, *, now: dt.datetime | None = None) -> None:
    """Apply ``PATCH /me``: language, departments, channel, discreet, paused."""
    if "channel" in changes and changes["channel"] not in subscriber.channels:
        raise PreferenceRefused(
            {"channel": ["She registered no contact for this channel: register it first."]}
        )
    if "language" in changes:
        subscriber.language = changes["language"]
    if "departments" in changes:
        codes, everywhere = changes["departments"]
        subscriber.all_departments = everywhere
        subscribers.set_departments(subscriber, codes)
    for name in ("channel", "discreet"):
        if name in changes:
            setattr(subscriber, name, changes[name])
    if changes.get("paused") is True and subscriber.status == "active":
        subscribers.pause(subscriber, now=now)
    elif changes.get("paused") is False and subscriber.status == "paused":
        subscribers.resume(subscriber)
    audit.record("subscriber_preferences_changed", subscriber, details={"fields": sorted(changes)})


def leave(subscriber: Subscriber, *, now: dt.datetime | None = None) -> None:
    """``DELETE /me``: unsubscribed at once, contact erased, every token revoked."""
    now = now or utcnow()
    subscribers.unsubscribe(subscriber, WORKER_SOURCE, now=now)
    subscribers.erase_contact(subscriber, now=now)
    revoke_tokens(subscriber, now=now)
