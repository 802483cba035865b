"""Report intake: validation, encrypted storage, corroboration, idempotency, anonymisation.

Every channel goes through the same validation, ``schemas.reports.ReportSchema``: the public
API (``views/api_reports.py``, whose operation declares the schema), the staff form for
reports taken on behalf of a worker (``views/reports.py``) and the demo seeder. The body is
API.md's report body; the form builds the same dict.

* ``validate_report(payload)`` is pure: it returns a ``ReportInput`` of normalised values,
  or raises ``ValidationFailed`` with every problem at once, keyed by field path
  (``incident.date``, ``aggressor.identifiers[1].value``). Messages are lazy: the staff form
  shows them in the user's language, the API in English. Unknown fields are refused at every
  level (see the schema). ``submit_report`` validates then stores.
* ``create_report(data, …)`` takes a validated ``ReportInput`` and adds the report, its
  identifiers and the audit event to the caller's transaction (no commit here: the request
  commits once, so a failure part-way leaves nothing). Victim details are sealed with the
  report's own data key; identifiers are sealed with the root key (they must outlive the
  erasure of the victim's data) and get a blind index per kind, which is how corroboration
  finds other reports naming the same aggressor.
* ``anonymise_pending`` is the scheduled job proposing a redacted narrative; intake never
  waits for it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.orm import aliased

from backoffice.extensions import db
from backoffice.models.base import new_row_uid, utcnow
from backoffice.models.report import (
    REPORT_STATUS_RECEIVED,
    IdempotencyRecord,
    Report,
    ReportIdentifier,
)
from backoffice.schemas.base import Message, ValidationFailed, load
from backoffice.schemas.reports import (
    AGE_RANGES,
    BUILDS,
    CONSENT_ITEMS,
    GENDERS,
    HEIGHTS,
    IdentifierInput,
    ReportInput,
    ReportSchema,
)
from backoffice.services import audit, identifiers, references, staff_notices
from backoffice.services.confidential import ErasedError, keyring
from backoffice.services.crypto import associated_data
from backoffice.services.vocabulary import severity_for
from backoffice.transactions import checkpoint

log = logging.getLogger(__name__)


# --- validation -----------------------------------------------------------------------------


def validate_report(payload: object, default_channel: str = "web") -> ReportInput:
    """Check and normalise a report body; raise ``ValidationFailed`` listing every problem."""
    return load(report_schema(default_channel), payload)


@functools.cache
def report_schema(default_channel: str = "web") -> ReportSchema:
    """The report schema for a channel's default (schemas hold no state between loads)."""
    return ReportSchema(default_channel=default_channel)


# --- storage --------------------------------------------------------------------------------


def submit_report(
    payload: object,
    *,
    default_channel: str = "web",
    api_client=None,
    filed_by=None,
    filing_organisation_id: int | None = None,
) -> Report:
    """Validate and store a report in the caller's transaction (the caller commits)."""
    data = validate_report(payload, default_channel=default_channel)
    return create_report(
        data,
        api_client=api_client,
        filed_by=filed_by,
        filing_organisation_id=filing_organisation_id,
    )


def create_report(
    data: ReportInput,
    *,
    api_client=None,
    filed_by=None,
    filing_organisation_id: int | None = None,
    received_at: dt.datetime | None = None,
) -> Report:
    """Add the report, its identifiers and the audit event to the caller's transaction.

    Nothing is flushed here: the caller's commit writes everything in one flush.
    """
    now = utcnow()
    received_at = received_at or now
    report = _new_report(data, received_at)
    report.api_client_id = getattr(api_client, "id", None)
    report.filed_by_id = getattr(filed_by, "id", None)
    report.filing_organisation_id = filing_organisation_id
    # Sealed with the report's own data key: erasing the key erases her details.
    report.victim_pseudonym = data.victim_pseudonym
    report.victim_phone = data.victim_phone
    report.victim_email = data.victim_email
    report.victim_preferred_language = data.victim_preferred_language
    report.identifiers = [_identifier_row(i, now) for i in data.identifiers]
    # Taken last: on SQLite the counter is part of this transaction (see references).
    report.reference = references.next_reference("J", received_at)
    db.session.add(report)
    audit.record(
        "report_received",
        report,
        details={"channel": data.channel, "identifiers": len(data.identifiers)},
    )
    # A dangerous report: the moderators on duty are told, in this same transaction.
    staff_notices.report_received(report, now)
    return report


def _new_report(data: ReportInput, received_at: dt.datetime) -> Report:
    return Report(
        # First: sealing the narrative binds it to the row's uid.
        row_uid=new_row_uid(),
        status=REPORT_STATUS_RECEIVED,
        channel=data.channel,
        language=data.language,
        incident_date=data.incident_date,
        incident_time=data.incident_time,
        date_precision=data.date_precision,
        department=data.department,
        city=data.city,
        work_context=data.work_context,
        violence_types=list(data.violence_types),
        severity=severity_for(data.violence_types),
        narrative=data.narrative,
        aggressor_description=dict(data.aggressor_description),
        vehicle=dict(data.vehicle),
        consent_publish_alert=data.consent_publish_alert,
        consent_follow_up=data.consent_follow_up,
        consent_share_with_partner=data.consent_share_with_partner,
        consent_statistics=data.consent_statistics,
        consent_police_or_lawyer=data.consent_police_or_lawyer,
        reporter_relation=data.reporter_relation,
        received_at=received_at,
        redaction_status="pending",
    )


def _identifier_row(item: IdentifierInput, created_at: dt.datetime) -> ReportIdentifier:
    row_uid = new_row_uid()
    ring = keyring()
    return ReportIdentifier(
        kind=item.kind,
        blind_index=ring.blind_index(item.kind, item.value),
        value_sealed=ring.seal(item.value, identifier_aad(row_uid)),
        row_uid=row_uid,
        platform=item.platform,
        created_at=created_at,
    )


def identifier_aad(row_uid: str) -> bytes:
    return associated_data("report_identifiers", "value", row_uid, None)


def identifier_value(row: ReportIdentifier) -> str:
    """The clear, normalised value of a stored identifier (aggressor data, lookup class)."""
    return keyring().open(row.value_sealed, identifier_aad(row.row_uid))


# --- corroboration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corroboration:
    """Other reports naming the same identifier as one of this report's."""

    identifier_id: int
    kind: str
    other_reports: int
    since: dt.datetime  # when the earliest of them was received


def corroborations(report: Report) -> list[Corroboration]:
    """For each identifier of ``report`` found in other reports: how many, and since when."""
    mine, other = ReportIdentifier, aliased(ReportIdentifier)
    statement = (
        select(
            mine.id,
            mine.kind,
            func.count(func.distinct(other.report_id)),
            func.min(Report.received_at),
        )
        .join(
            other,
            and_(
                other.kind == mine.kind,
                other.blind_index == mine.blind_index,
                other.report_id != mine.report_id,
            ),
        )
        .join(Report, Report.id == other.report_id)
        .where(mine.report_id == report.id)
        .group_by(mine.id, mine.kind)
        .order_by(mine.id)
    )
    return [Corroboration(*row) for row in db.session.execute(statement)]


def reports_naming(kind: str, value: str, exclude_report_id: int | None = None) -> list[Report]:
    """Reports whose identifiers include ``value`` (normalised here), oldest first."""
    normalised = identifiers.normalise(kind, value)
    return _reports_with(kind, keyring().blind_index(kind, normalised), exclude_report_id)


def corroborating_reports(identifier: ReportIdentifier) -> list[Report]:
    """The other reports sharing this stored identifier, oldest first."""
    return _reports_with(identifier.kind, identifier.blind_index, identifier.report_id)


def _reports_with(kind: str, blind_index: str, exclude_report_id: int | None) -> list[Report]:
    # A subquery rather than DISTINCT: PostgreSQL cannot compare the report's JSON columns.
    matching = select(ReportIdentifier.report_id).where(
        ReportIdentifier.kind == kind, ReportIdentifier.blind_index == blind_index
    )
    statement = select(Report).where(Report.id.in_(matching)).order_by(Report.received_at)
    if exclude_report_id is not None:
        statement = statement.where(Report.id != exclude_report_id)
    return list(db.session.scalars(statement))


# --- API idempotency ------------------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used by the same client with a different body."""


def request_fingerprint(payload: object) -> str:
    """SHA-256 of the body's canonical JSON: key order and spacing do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def idempotent_answer(api_client_id: int, key: str, fingerprint: str) -> tuple[int, dict] | None:
    """The first answer to this key from this client within the window, if any.

    Raises IdempotencyConflict when the key was used for another body. An expired record is
    deleted (in the caller's transaction), so the key can be used again.
    """
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_client_id == api_client_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.created_at < utcnow() - _idempotency_window():
        db.session.delete(record)
        db.session.flush()
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflict
    return record.status_code, dict(record.response_json)


def remember_answer(
    api_client_id: int, key: str, fingerprint: str, status_code: int, body: dict
) -> None:
    """Store the answer in the caller's transaction, with the report it describes.

    Written at once: a key already taken raises IntegrityError here (see the API view).
    """
    db.session.execute(
        insert(IdempotencyRecord).values(
            api_client_id=api_client_id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response_json=body,
            created_at=utcnow(),
        )
    )


def purge_idempotency_records() -> int:
    """Scheduled: forget answers older than the idempotency window."""
    result = db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < utcnow() - _idempotency_window()
        )
    )
    return result.rowcount or 0


def _idempotency_window() -> dt.timedelta:
    return dt.timedelta(hours=current_app.config.get("API_IDEMPOTENCY_HOURS", 24))


# --- anonymisation job ----------------------------------------------------------------------


def anonymise_pending(batch_size: int = 20, time_budget_seconds: float = 25.0) -> int:
    """Scheduled: propose a redacted narrative for reports still waiting for one.

    ``keep`` holds the aggressor's identifiers (they are what an alert is for); ``deny`` the
    victim's declared pseudonym, phone and email, which go even when the recognisers miss
    them (their decryption is audited, by "system"). Returns how many reports were handled.
    """
    from backoffice.services import anonymise  # heavy (spaCy): only the job loads it

    anonymise.warm_up()
    started, handled = time.monotonic(), 0
    while time.monotonic() - started < time_budget_seconds:
        ids = db.session.scalars(
            select(Report.id)
            .where(Report.redaction_status == "pending")
            .order_by(Report.id)
            .limit(batch_size)
        ).all()
        if not ids:
            break
        for report_id in ids:
            _anonymise_one(anonymise, report_id)
        checkpoint()  # each batch's proposals are kept, whatever happens to the next
        handled += len(ids)
    return handled


def _anonymise_one(anonymise, report_id: int) -> None:
    report = db.session.get(Report, report_id)
    try:
        keep = [identifier_value(row) for row in report.identifiers]
        redaction = anonymise.propose_redaction(
            report.narrative,
            language=report.language or "fr",
            keep=keep,
            deny=_victim_details(report),
        )
        # Sealed with her data key, like the narrative it quotes.
        sealed = Report.redaction_proposal.token_for(report, redaction.to_json())
        values = {"redaction_status": "proposed", "redaction_proposal_sealed": sealed}
    except Exception as exc:  # one bad report must not stop the others
        # The type only: messages may quote the text.
        log.warning("Anonymisation of report %s failed (%s)", report_id, type(exc).__name__)
        values = {"redaction_status": "failed", "redaction_proposal_sealed": None}
    # A plain UPDATE: no version bump (a moderator's open form stays valid) and no double
    # work if two runs overlap (only a still-pending report is written).
    db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.redaction_status == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(report)


def _victim_details(report: Report) -> list[str]:
    try:
        values = [report.victim_pseudonym, report.victim_phone, report.victim_email]
    except ErasedError:
        return []  # her details were erased: nothing left to deny
    return [v for v in values if v]


__all__ = [
    "AGE_RANGES",
    "BUILDS",
    "CONSENT_ITEMS",
    "GENDERS",
    "HEIGHTS",
    "Corroboration",
    "IdempotencyConflict",
    "IdentifierInput",
    "Message",
    "ReportInput",
    "ValidationFailed",
    "anonymise_pending",
    "corroborating_reports",
    "corroborations",
    "create_report",
    "idempotent_answer",
    "identifier_aad",
    "identifier_value",
    "purge_idempotency_records",
    "remember_answer",
    "report_schema",
    "reports_naming",
    "request_fingerprint",
    "submit_report",
    "validate_report",
]
