"""Subscribers: registration by a partner association, validation, pause, unsubscribe, import.

Rules, and why:

* A worker is registered (co-opted) by a partner association that knows her; her record
  starts ``pending`` and an organisation's staff member validates it (``active``), which
  queues a welcome SMS in her language. Staff may validate at once when they register her
  in person.
* Channels: an SMS number and/or an email address; at least one, and an email is never
  required. Both are sealed with her record's data key and found through blind indexes
  (kinds ``subscriber-phone`` / ``subscriber-email``, distinct from aggressor identifiers'
  so that the two can never be linked by index). The indexes are unique: a number or an
  address is registered once. The refusal does not say which association holds it.
* A number must be able to receive SMS: French landlines are refused.
* Unsubscribing (STOP, the email link, or her organisation) is immediate: her queued alerts
  are cancelled at once, and her contact details are crypto-shredded once nothing is left
  to send (``erase_unsubscribed_contacts``, a daily job; at once when the same number is
  registered again).
* Nothing here logs or audits a contact detail: audit events carry ids and counts.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import phonenumbers
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import FINAL_STATUSES, Delivery
from backoffice.models.subscriber import SUBSCRIBER_STATUSES, Subscriber, SubscriberDepartment
from backoffice.security import scoped
from backoffice.services import audit, identifiers, outbox
from backoffice.services.alert_text import LANGUAGE_NAMES
from backoffice.services.confidential import data_key_of, keyring, shred
from backoffice.services.crypto import DecryptionError, associated_data, open_with_data_key
from backoffice.services.paging import Page, paginate
from backoffice.services.vocabulary import ALERT_LANGUAGES, DEPARTMENTS
from backoffice.transactions import checkpoint

PHONE_INDEX_KIND = "subscriber-phone"
EMAIL_INDEX_KIND = "subscriber-email"
TOKEN_KIND = "subscriber-unsubscribe"  # noqa: S105 - a key purpose, not a secret
PSEUDONYM_MAX_LENGTH = 80
IMPORT_MAX_BYTES = 2 * 1024 * 1024
SEALED_COLUMNS = ["phone_sealed", "email_sealed"]
PURGE_BATCH = 500  # rows a retention job changes between two commits
# Words accepted for "all of France" in forms and CSV files.
ALL_OF_FRANCE = {"all", "tous", "toutes", "france", "toute la france", "*"}


class SubscriberError(Exception):
    """A refused change; ``errors`` maps form fields to messages for the staff member."""

    def __init__(self, message: object, errors: dict[str, list] | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.errors = errors or {}


@dataclass
class SubscriberData:
    """Cleaned registration data (contact details normalised, still in clear: never log)."""

    pseudonym: str
    phone: str | None
    email: str | None
    language: str
    departments: list[str]
    all_departments: bool


# --- cleaning --------------------------------------------------------------------------------


def parse_departments(value: object) -> tuple[list[str], bool]:
    """``"75 93"``, ``"75,93"``, ``["75", "93"]`` or ``"all"`` -> (codes, all of France)."""
    if isinstance(value, str):
        folded = _fold(value)
        if folded in ALL_OF_FRANCE:
            return [], True
        parts = value.replace(",", " ").replace(";", " ").replace("|", " ").split()
    else:
        parts = [str(v).strip() for v in (value or [])]
    codes = []
    for part in parts:
        code = part.strip().upper()
        if len(code) == 1 and code.isdigit():
            code = "0" + code  # "6" for the Alpes-Maritimes, as people write it
        codes.append(code)
    order = {code: position for position, code in enumerate(DEPARTMENTS)}
    return sorted(set(codes), key=lambda c: (order.get(c, len(order)), c)), False


def parse_language(value: object) -> str | None:
    """An alert language code from a code (``ro``) or a name (``Română``, ``roumain``)."""
    text = _fold(str(value or ""))
    if not text:
        return None
    for code in ALERT_LANGUAGES:
        if text == code or text == _fold(LANGUAGE_NAMES[code]):
            return code
    return _FRENCH_LANGUAGE_NAMES.get(text)


_FRENCH_LANGUAGE_NAMES = {
    "francais": "fr",
    "anglais": "en",
    "espagnol": "es",
    "portugais": "pt",
    "roumain": "ro",
    "bulgare": "bg",
    "chinois": "zh",
    "mandarin": "zh",
    "russe": "ru",
    "ukrainien": "uk",
    "arabe": "ar",
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _clean_phone(value: str, errors: dict[str, list]) -> str | None:
    try:
        phone = identifiers.normalise("phone", value)
    except identifiers.InvalidIdentifier:
        errors.setdefault("phone", []).append(_l("This is not a valid phone number."))
        return None
    kind = phonenumbers.number_type(phonenumbers.parse(phone, None))
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        errors.setdefault("phone", []).append(
            _l("This number is a landline: it cannot receive SMS. Give a mobile number.")
        )
        return None
    return phone


def _clean_email(value: str, errors: dict[str, list]) -> str | None:
    try:
        return identifiers.normalise("email", value)
    except identifiers.InvalidIdentifier:
        errors.setdefault("email", []).append(_l("This email address is not valid."))
        return None


def clean(data: Mapping[str, object]) -> SubscriberData:
    """Check and normalise registration data; raises ``SubscriberError`` with field errors."""
    errors: dict[str, list] = {}
    pseudonym = " ".join(str(data.get("pseudonym") or "").split())
    if not pseudonym:
        errors["pseudonym"] = [_l("Give a pseudonym: the name she wants to be known by here.")]
    elif len(pseudonym) > PSEUDONYM_MAX_LENGTH:
        errors["pseudonym"] = [
            _l("A pseudonym cannot be longer than %(max)d characters.", max=PSEUDONYM_MAX_LENGTH)
        ]
    elif sum(c.isdigit() for c in pseudonym) >= 6 or "@" in pseudonym:
        errors["pseudonym"] = [_l("A pseudonym cannot hold a phone number or an email address.")]
    phone_text = str(data.get("phone") or "").strip()
    email_text = str(data.get("email") or "").strip()
    phone = _clean_phone(phone_text, errors) if phone_text else None
    email = _clean_email(email_text, errors) if email_text else None
    if not phone_text and not email_text:
        errors["phone"] = [_l("Give an SMS number or an email address (an email is optional).")]
    language = parse_language(data.get("language"))
    if language is None:
        errors["language"] = [_l("Choose one of the ten alert languages.")]
    departments, all_departments = _departments_of(data)
    unknown = [d for d in departments if d not in DEPARTMENTS]
    if unknown:
        errors["departments"] = [_l("Unknown department: %(codes)s.", codes=", ".join(unknown[:5]))]
    elif not departments and not all_departments:
        errors["departments"] = [_l("Choose at least one department, or all of France.")]
    if errors:
        raise SubscriberError(_l("Some fields need correcting."), errors)
    return SubscriberData(
        pseudonym=pseudonym,
        phone=phone,
        email=email,
        language=language,
        departments=[] if all_departments else departments,
        all_departments=all_departments,
    )


def _departments_of(data: Mapping[str, object]) -> tuple[list[str], bool]:
    departments, all_departments = parse_departments(data.get("departments"))
    flag = data.get("all_departments")
    if isinstance(flag, str):
        flag = flag.strip().lower() in {"1", "true", "yes", "on", "y"}
    return departments, all_departments or bool(flag)


# --- blind indexes and tokens ------------------------------------------------------------------


def phone_index(phone: str) -> str:
    return keyring().blind_index(PHONE_INDEX_KIND, phone)


def email_index(email: str) -> str:
    return keyring().blind_index(EMAIL_INDEX_KIND, email)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def unsubscribe_token(subscriber: Subscriber) -> str:
    """The secret of her unsubscribe link: HMAC of her random salt under a server key.

    Reproducible for every email without being stored; the database holds the salt and the
    token's SHA-256 only, so a copy of it gives no working link.
    """
    return keyring().blind_index(TOKEN_KIND, subscriber.unsubscribe_salt)


def _new_token(subscriber: Subscriber) -> None:
    subscriber.unsubscribe_salt = secrets.token_hex(16)
    subscriber.unsubscribe_token_hash = token_hash(unsubscribe_token(subscriber))


def unsubscribe_url(subscriber: Subscriber) -> str:
    config = current_app.config
    base = (config.get("UNSUBSCRIBE_BASE_URL") or config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}/unsubscribe/{unsubscribe_token(subscriber)}"


def find_by_token(token: str) -> Subscriber | None:
    if not token or len(token) > 128 or not token.isalnum():
        return None
    return db.session.scalar(
        select(Subscriber).where(Subscriber.unsubscribe_token_hash == token_hash(token))
    )


def find_by_phone(value: str) -> Subscriber | None:
    phone = identifiers.try_normalise("phone", value)
    if phone is None:
        return None
    return db.session.scalar(select(Subscriber).where(Subscriber.phone_index == phone_index(phone)))


def organisation_page(
    actor, *, status: str = "", query: str = "", page: int = 1, size: int = 50
) -> Page:
    """One page of the subscribers the actor's organisation co-opted, newest first, by
    status and by a piece of pseudonym (the only clear field worth searching)."""
    statement = scoped(select(Subscriber), Subscriber, actor)
    if status in SUBSCRIBER_STATUSES:
        statement = statement.where(Subscriber.status == status)
    query = query.strip()[:PSEUDONYM_MAX_LENGTH]
    if query:
        statement = statement.where(Subscriber.id.in_(_ids_named_like(statement, query)))
    ordered = statement.options(selectinload(Subscriber.department_rows)).order_by(
        Subscriber.created_at.desc(), Subscriber.id.desc()
    )
    return paginate(ordered, page, size)


def _ids_named_like(statement, query: str) -> list[int]:
    """Ids of the rows of ``statement`` whose pseudonym contains ``query`` (any case).

    Pseudonyms are sealed, so the database cannot search them: the organisation's rows are
    opened here (the search never leaves the actor's scope)."""
    wanted = query.casefold()
    return [
        row.id
        for row in db.session.scalars(statement)
        if wanted in (row.pseudonym or "").casefold()
    ]


def recent_deliveries(subscriber: Subscriber, limit: int = 20) -> list[Delivery]:
    """Her latest deliveries, newest first, for her organisation's page about her."""
    return list(
        db.session.scalars(
            select(Delivery)
            .where(Delivery.subscriber_id == subscriber.id)
            .options(selectinload(Delivery.alert))
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
    )


def contact_for_dispatch(subscriber: Subscriber, field_name: str) -> str | None:
    """Decrypt her phone or email for sending, without a per-row audit event.

    The dispatcher reads thousands of contacts per alert; it writes one audit event per
    batch instead (``services.dispatch``). Staff reads go through the audited attribute.
    """
    token = getattr(subscriber, f"{field_name}_sealed")
    if token is None:
        return None
    _key_row, dek = data_key_of(subscriber)
    aad = associated_data(
        Subscriber.__tablename__, field_name, subscriber.row_uid, subscriber.organisation_id
    )
    return open_with_data_key(dek, token, aad)


# --- lifecycle ---------------------------------------------------------------------------------


def _check_unique(data: SubscriberData, exclude_id: int | None = None) -> None:
    errors: dict[str, list] = {}
    checks = (
        ("phone", data.phone, Subscriber.phone_index, phone_index),
        ("email", data.email, Subscriber.email_index, email_index),
    )
    for name, value, column, index_of in checks:
        if value is None:
            continue
        holder = db.session.scalar(select(Subscriber).where(column == index_of(value)))
        if holder is None or holder.id == exclude_id:
            continue
        if holder.status == "unsubscribed":
            # She left and comes back: the old record's contact goes now, the index with it.
            erase_contact(holder)
            db.session.flush()
            continue
        message = (
            _l("This number is already registered (possibly by another association).")
            if name == "phone"
            else _l("This email address is already registered (possibly by another association).")
        )
        errors[name] = [message]
    if errors:
        raise SubscriberError(_l("Already registered."), errors)


def _apply(subscriber: Subscriber, data: SubscriberData) -> None:
    subscriber.pseudonym = data.pseudonym
    subscriber.language = data.language
    subscriber.all_departments = data.all_departments
    subscriber.phone = data.phone
    subscriber.phone_index = phone_index(data.phone) if data.phone else None
    subscriber.email = data.email
    subscriber.email_index = email_index(data.email) if data.email else None
    set_departments(subscriber, data.departments)


def set_departments(subscriber: Subscriber, departments: list[str]) -> None:
    """Her department rows made equal to ``departments`` (rows kept where unchanged)."""
    wanted = set(departments)
    for row in list(subscriber.department_rows):
        if row.department not in wanted:
            subscriber.department_rows.remove(row)
    present = {row.department for row in subscriber.department_rows}
    for code in departments:
        if code not in present:
            subscriber.department_rows.append(SubscriberDepartment(department=code))


def registered_holder(data: SubscriberData) -> Subscriber | None:
    """Who already receives alerts at this number or address (any organisation), unless
    she left."""
    for value, column, index_of in (
        (data.phone, Subscriber.phone_index, phone_index),
        (data.email, Subscriber.email_index, email_index),
    ):
        if value is None:
            continue
        holder = db.session.scalar(select(Subscriber).where(column == index_of(value)))
        if holder is not None and holder.status != "unsubscribed":
            return holder
    return None


def register_without_telling(
    data: Mapping[str, object] | SubscriberData,
    organisation_id: int,
    actor=None,
    *,
    validate_now: bool = False,
    now: dt.datetime | None = None,
) -> Subscriber | None:
    """Staff registration and import (issue 12, F8): a number registered already — by any
    association — creates nothing and is not refused either; she receives a message telling
    her how to manage her subscription. Returns the new subscriber, or None; the caller
    answers the same in both cases, so a partner cannot test who is registered."""
    cleaned = data if isinstance(data, SubscriberData) else clean(data)
    holder = registered_holder(cleaned)
    if holder is None:
        return register(cleaned, organisation_id, actor, validate_now=validate_now, now=now)
    outbox.enqueue_notice(holder, "manage", now=now)
    # The holder's id and organisation stay out of the registering organisation's events.
    audit.record(
        "subscriber_registration_existing",
        object_type="Subscriber",
        organisation_id=organisation_id,
        actor=actor,
    )
    return None


def register(
    data: Mapping[str, object] | SubscriberData,
    organisation_id: int,
    actor=None,
    *,
    validate_now: bool = False,
    now: dt.datetime | None = None,
) -> Subscriber:
    """Co-opt a worker for ``organisation_id``: pending, or active when ``validate_now``.

    Refuses a number registered already (the seeders and tests); staff screens and the
    import go through ``register_without_telling``."""
    cleaned = data if isinstance(data, SubscriberData) else clean(data)
    _check_unique(cleaned)
    subscriber = Subscriber(
        organisation_id=organisation_id,
        status="pending",
        created_by_id=getattr(actor, "id", None),
    )
    _new_token(subscriber)
    db.session.add(subscriber)
    _apply(subscriber, cleaned)
    _flush_unique()
    audit.record("subscriber_registered", subscriber, details={"channels": subscriber.channels})
    if validate_now:
        validate(subscriber, actor, now=now)
    return subscriber


def update_details(subscriber: Subscriber, data: Mapping[str, object], actor=None) -> Subscriber:
    """Change her pseudonym, channels, language or departments."""
    if subscriber.status == "unsubscribed":
        raise SubscriberError(_l("She unsubscribed: register her again instead."))
    cleaned = clean(data)
    _check_unique(cleaned, exclude_id=subscriber.id)
    _apply(subscriber, cleaned)
    _flush_unique()
    audit.record("subscriber_updated", subscriber, details={"channels": subscriber.channels})
    return subscriber


def _flush_unique() -> None:
    try:
        db.session.flush()
    except IntegrityError:
        # Two registrations of the same number at the same moment: the second one loses.
        # The caller rolls back (a view) or its savepoint does (the import).
        raise SubscriberError(
            _l("This number or address was registered meanwhile."),
            {"phone": [_l("This number or address was registered meanwhile.")]},
        ) from None


def validate(subscriber: Subscriber, actor=None, *, now: dt.datetime | None = None) -> None:
    """Pending -> active, and queue her welcome SMS."""
    if subscriber.status != "pending":
        raise SubscriberError(_l("Only a registration waiting for validation can be validated."))
    now = now or utcnow()
    subscriber.status = "active"
    subscriber.validated_at = now
    subscriber.validated_by_id = getattr(actor, "id", None)
    db.session.flush()
    outbox.enqueue_notice(subscriber, "welcome", now=now)
    audit.record("subscriber_validated", subscriber)


def pause(subscriber: Subscriber, actor=None, *, now: dt.datetime | None = None) -> None:
    if subscriber.status != "active":
        raise SubscriberError(_l("Only an active subscriber can be paused."))
    subscriber.status = "paused"
    subscriber.paused_at = now or utcnow()
    audit.record("subscriber_paused", subscriber)


def resume(subscriber: Subscriber, actor=None) -> None:
    if subscriber.status != "paused":
        raise SubscriberError(_l("Only a paused subscriber can be resumed."))
    subscriber.status = "active"
    subscriber.paused_at = None
    audit.record("subscriber_resumed", subscriber)


def unsubscribe(
    subscriber: Subscriber, source: str, actor=None, *, now: dt.datetime | None = None
) -> bool:
    """Stop every alert to her at once. Returns False when she had already unsubscribed."""
    if subscriber.status == "unsubscribed":
        return False
    now = now or utcnow()
    subscriber.status = "unsubscribed"
    subscriber.unsubscribed_at = now
    subscriber.unsubscribe_source = source
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.status == "queued",
            Delivery.purpose != "goodbye",
        )
        .values(status="cancelled", error_code="unsubscribed", last_error=None, updated_at=now)
    )
    if source == "sms_stop" and subscriber.phone_index:
        outbox.enqueue_notice(subscriber, "goodbye", now=now)
    audit.record("subscriber_unsubscribed", subscriber, details={"source": source}, actor=actor)
    return True


# First words of a reply that mean "stop", folded (lower case, no accents), in the ten
# alert languages and their usual spellings.
STOP_WORDS = frozenset(
    {
        "stop",
        "stopp",
        "stopall",
        "arret",
        "arreter",
        "unsubscribe",
        "desinscription",
        "desinscrire",
        "baja",
        "parar",
        "cancelar",
        "dezabonare",
        "стоп",
        "退订",
        "停止",
        "توقف",
        "الغاء",
    }
)
SMS_REPLY_READ = 200  # characters of a reply read for its first word
SMS_SENDER_MAX = 40


def is_stop(text: str) -> bool:
    """Whether an SMS reply asks to stop: its first word, punctuation aside."""
    folded = _fold(text)
    words = folded.replace(".", " ").replace("!", " ").replace(",", " ").split()
    return bool(words) and (words[0] in STOP_WORDS or folded in STOP_WORDS)


def stop_by_sms(sender: str, text: str) -> bool:
    """A reply to an SMS: STOP from a registered number unsubscribes her at once (and queues
    the goodbye). Returns whether someone was unsubscribed; the caller must not tell."""
    if not is_stop(text[:SMS_REPLY_READ]):
        return False
    subscriber = find_by_phone(sender[:SMS_SENDER_MAX])
    return subscriber is not None and unsubscribe(subscriber, "sms_stop")


def erase_contact(subscriber: Subscriber, *, now: dt.datetime | None = None) -> None:
    """Crypto-shred her number and address; the indexes go too, so she can come back."""
    shred(subscriber, SEALED_COLUMNS)
    subscriber.phone_index = None
    subscriber.email_index = None
    subscriber.contact_erased_at = now or utcnow()
    _new_token(subscriber)  # an old link no longer finds her
    audit.record("subscriber_contact_erased", subscriber)


def erase_unsubscribed_contacts(now: dt.datetime | None = None) -> int:
    """Daily job: shred the contacts of those who left, once nothing is left to send them.

    Batch by batch, each committed (``checkpoint``): a run stopped half-way keeps what it
    erased.
    """
    now = now or utcnow()
    hours = int(current_app.config.get("SUBSCRIBER_ERASE_AFTER_HOURS", 24))
    pending = select(Delivery.id).where(
        Delivery.subscriber_id == Subscriber.id, Delivery.status.not_in(FINAL_STATUSES)
    )
    statement = select(Subscriber).where(
        Subscriber.status == "unsubscribed",
        Subscriber.contact_erased_at.is_(None),
        Subscriber.unsubscribed_at <= now - dt.timedelta(hours=hours),
        ~pending.exists(),
    )
    count = 0
    while batch := db.session.scalars(statement.limit(PURGE_BATCH)).all():
        for subscriber in batch:
            erase_contact(subscriber, now=now)
        db.session.flush()
        count += len(batch)
        checkpoint()
    return count


def purge_old_deliveries(now: dt.datetime | None = None) -> int:
    """Daily job: delete finished deliveries after ``DELIVERY_RETENTION_DAYS``, batch by
    batch, each committed (an alert fans out to tens of thousands of rows).

    Who received which alert says where she works: it is kept only as long as the delivery
    view and the statistics need it.
    """
    now = now or utcnow()
    days = int(current_app.config.get("DELIVERY_RETENTION_DAYS", 90))
    expired = select(Delivery.id).where(
        Delivery.status.in_(FINAL_STATUSES),
        Delivery.created_at < now - dt.timedelta(days=days),
    )
    total = 0
    while ids := db.session.scalars(expired.limit(PURGE_BATCH * 10)).all():
        db.session.execute(
            delete(Delivery)
            .where(Delivery.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        total += len(ids)
        checkpoint()
    return total


# --- CSV import --------------------------------------------------------------------------------

_COLUMN_NAMES = {
    "pseudonym": "pseudonym",
    "pseudonyme": "pseudonym",
    "phone": "phone",
    "telephone": "phone",
    "tel": "phone",
    "sms": "phone",
    "mobile": "phone",
    "portable": "phone",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "courriel": "email",
    "language": "language",
    "langue": "language",
    "lang": "language",
    "departments": "departments",
    "departements": "departments",
    "department": "departments",
    "departement": "departments",
    "dept": "departments",
}
REQUIRED_COLUMNS = ("pseudonym", "language", "departments")


@dataclass
class ImportReport:
    created: int = 0
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)
    error: str | None = None  # the whole file was refused

    @property
    def total(self) -> int:
        return self.created + len(self.rejected)


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _reader(text: str) -> csv.DictReader:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.DictReader(io.StringIO(text), dialect=dialect)


def _header_map(fieldnames: Iterable[str] | None) -> dict[str, str]:
    mapping = {}
    for name in fieldnames or []:
        key = _COLUMN_NAMES.get(_fold(name or "").replace(" ", ""))
        if key and key not in mapping.values():
            mapping[name] = key
    return mapping


def _line_reasons(error: SubscriberError) -> list[str]:
    if not error.errors:
        return [str(error.message)]
    return [str(message) for messages in error.errors.values() for message in messages]


def import_csv(
    content: bytes, organisation_id: int, actor=None, *, validate_now: bool = False
) -> ImportReport:
    """Register every valid line; report the others by line number and reason (no values).

    Columns (French or English names): pseudonym, phone, email, language, departments
    (``75 93`` or ``all``). Separator ``,`` or ``;``. Each line is its own savepoint: a bad
    line changes nothing, the good ones are kept.
    """
    report = ImportReport()
    if len(content) > IMPORT_MAX_BYTES:
        report.error = str(_l("The file is too large (2 MB at most)."))
        return report
    reader = _reader(_decode(content))
    mapping = _header_map(reader.fieldnames)
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping.values()]
    if missing or not ({"phone", "email"} & set(mapping.values())):
        report.error = str(
            _l(
                "The first line must name the columns: pseudonym, phone and/or email, "
                "language, departments."
            )
        )
        return report
    max_lines = int(current_app.config.get("SUBSCRIBER_IMPORT_MAX_LINES", 5000))
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        if number - 1 > max_lines:
            report.rejected.append((number, [str(_l("Beyond the maximum number of lines."))]))
            break
        values = {key: (row.get(name) or "") for name, key in mapping.items()}
        if not any(str(v).strip() for v in values.values()):
            continue  # blank line
        _import_line(values, number, organisation_id, actor, validate_now, seen, report)
    audit.record(
        "subscribers_imported",
        object_type="Subscriber",
        organisation_id=organisation_id,
        details={"created": report.created, "rejected": len(report.rejected)},
    )
    return report


def _import_line(values, number, organisation_id, actor, validate_now, seen, report) -> None:
    try:
        cleaned = clean(values)
        keys = {k for k in (cleaned.phone, cleaned.email) if k}
        if keys & seen:
            raise SubscriberError(_l("The same number or address appears earlier in the file."))
        with db.session.begin_nested():
            # A number registered already counts like a new one (F8: no oracle, 5,000 lines
            # at a time); she is told how to manage her subscription.
            register_without_telling(cleaned, organisation_id, actor, validate_now=validate_now)
        seen.update(keys)
        report.created += 1
    except SubscriberError as error:
        report.rejected.append((number, _line_reasons(error)))


# --- counts (moderators and coordinators: no person, cells under 5 suppressed) ---------------

SMALL_CELL = 5


def _suppressed(value: int) -> str:
    return f"< {SMALL_CELL}" if 0 < value < SMALL_CELL else str(value)


def counts() -> dict[str, object]:
    """Subscribers by status, active ones by language, channel and department."""
    by_status = dict(
        db.session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status))
        .tuples()
        .all()
    )
    active = Subscriber.status == "active"
    by_language = dict(
        db.session.execute(
            select(Subscriber.language, func.count()).where(active).group_by(Subscriber.language)
        )
        .tuples()
        .all()
    )
    by_department = dict(
        db.session.execute(
            select(SubscriberDepartment.department, func.count())
            .join(Subscriber, Subscriber.id == SubscriberDepartment.subscriber_id)
            .where(active)
            .group_by(SubscriberDepartment.department)
        )
        .tuples()
        .all()
    )
    channel_counts = Counter()
    for column, name in ((Subscriber.phone_index, "sms"), (Subscriber.email_index, "email")):
        channel_counts[name] = db.session.scalar(
            select(func.count()).where(active, column.is_not(None))
        )
    all_france = db.session.scalar(select(func.count()).where(active, Subscriber.all_departments))
    return {
        "by_status": {k: _suppressed(v) for k, v in by_status.items()},
        "by_language": {code: _suppressed(by_language.get(code, 0)) for code in ALERT_LANGUAGES},
        "by_channel": {k: _suppressed(v) for k, v in channel_counts.items()},
        "by_department": {
            code: _suppressed(count)
            for code, count in sorted(by_department.items(), key=lambda kv: -kv[1])
        },
        "all_of_france": _suppressed(all_france or 0),
        "total_active": _suppressed(by_status.get("active", 0)),
    }


def contact_display(subscriber: Subscriber) -> dict[str, str | None]:
    """Her number and address for her organisation's staff (audited decryption)."""
    try:
        phone = subscriber.phone
        email = subscriber.email
    except DecryptionError:
        return {"phone": None, "email": None}
    return {
        "phone": identifiers.display("phone", phone) if phone else None,
        "email": email,
    }
