"""Alerts: composition from reports, publication, retraction, expiry, the feed and the check.

* An alert is composed from one or more reports about the same aggressor (corroboration) and
  holds structured parts (violence types, departments, date with its precision, work
  context, aggressor description, vehicle, identifiers to publish) plus a free summary in
  French; hand translations of the summary are optional (``AlertTranslation``), the
  structured parts render in every alert language from the catalogues (``alert_text``).
* Severity is derived from the violence types (``vocabulary.severity_for``); a moderator may
  raise it, never lower it below the derived level.
* Publication needs every linked report approved (consent to an alert, redaction reviewed)
  and refuses an alert whose free text repeats a detail the moderator redacted or the
  victim's own declared details. It records that dispatch is due (``dispatch_requested_at``,
  consumed by the dispatch area) and sets the expiry (``ALERT_EXPIRY_MONTHS``, 12).
* Retraction (with a reason) and expiry take an alert out of the feed and the check at once;
  its reports become ``archived`` through the state machine.
* The identifier check normalises the value, computes its blind index and looks it up among
  identifiers of published, unexpired alerts only; the clear value is never stored or
  logged, and each check increments a counter (month, kind, matched, client).
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import json
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Engine, and_, bindparam, create_engine, exists, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from backoffice.extensions import db
from backoffice.models.alert import (
    Alert,
    AlertDepartment,
    AlertIdentifier,
    AlertReport,
    AlertTranslation,
    AlertVersion,
    IdentifierCheck,
)
from backoffice.models.base import new_row_uid, utcnow
from backoffice.models.report import DATE_PRECISIONS, Report, ReportIdentifier
from backoffice.security import OutOfScope, can
from backoffice.services import (
    anonymise,
    audit,
    identifiers,
    intake,
    moderation,
    outbox,
    text_review,
)
from backoffice.services.alert_text import (
    AGE_RANGE_LABELS,
    BUILD_LABELS,
    GENDER_LABELS,
    HEIGHT_LABELS,
    AlertContent,
    RenderedAlert,
    render_alert,
)
from backoffice.services.confidential import keyring
from backoffice.services.crypto import DecryptionError, associated_data
from backoffice.services.paging import Page, paginate
from backoffice.services.references import next_reference
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    DEPARTMENTS,
    SEVERITIES,
    SEVERITY_RANK,
    SPAN_LABELS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
    severity_for,
)

DEFAULT_EXPIRY_MONTHS = 12
SUMMARY_MAX_LENGTH = 2000
FREE_TEXT_MAX_LENGTH = 200
CHECK_VALUE_MAX_LENGTH = 500
FEED_PAGE_SIZE = 50
DESCRIPTION_CHOICES = {
    "gender": GENDER_LABELS,
    "age_range": AGE_RANGE_LABELS,
    "height": HEIGHT_LABELS,
    "build": BUILD_LABELS,
}
DESCRIPTION_FREE_TEXT = ("hair", "distinctive_signs")
VEHICLE_FIELDS = ("make", "model", "colour")


class AlertError(Exception):
    """A refused alert operation; ``errors`` maps form fields to messages."""

    def __init__(self, message: object, errors: dict[str, list] | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.errors = errors or {}


class AlertChanged(AlertError):
    def __init__(self) -> None:
        super().__init__(
            _l(
                "Someone else changed this alert while you were working on it. Reload the page "
                "to see their changes; nothing of yours was saved."
            )
        )


# --- configuration ---------------------------------------------------------------------------


def expiry_months() -> int:
    if has_app_context():
        return int(current_app.config.get("ALERT_EXPIRY_MONTHS", DEFAULT_EXPIRY_MONTHS))
    return DEFAULT_EXPIRY_MONTHS


def alert_languages() -> list[str]:
    if has_app_context():
        configured = current_app.config.get("ALERT_LANGUAGES") or ALERT_LANGUAGES
        return [lang for lang in configured if lang in ALERT_LANGUAGES]
    return list(ALERT_LANGUAGES)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# --- the parts of an alert ---------------------------------------------------------------------


@dataclass
class AlertParts:
    """What the composer form sends; validated by ``validate_parts``."""

    violence_types: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    incident_date: dt.date | None = None
    date_precision: str = "day"
    work_context: str | None = None
    description: dict = field(default_factory=dict)
    vehicle: dict = field(default_factory=dict)
    # ReportIdentifier ids chosen for publication, and identifiers typed by the moderator.
    report_identifier_ids: list[int] = field(default_factory=list)
    extra_identifiers: list[tuple[str, str]] = field(default_factory=list)
    # Identifiers typed earlier into a draft (AlertIdentifier ids) that stay.
    kept_identifier_ids: list[int] = field(default_factory=list)
    severity: str | None = None  # None: the derived severity
    summary: str = ""
    translations: dict[str, str] = field(default_factory=dict)


def parts_from_reports(reports: Sequence[Report]) -> AlertParts:
    """A first draft from the reports: union of types and departments, first report's facts."""
    first = reports[0]
    violence = []
    departments = []
    for report in reports:
        violence += [v for v in report.violence_types or [] if v not in violence]
        if report.department not in departments:
            departments.append(report.department)
    description = {k: v for k, v in (first.aggressor_description or {}).items() if v}
    vehicle = {k: v for k, v in (first.vehicle or {}).items() if k in VEHICLE_FIELDS and v}
    return AlertParts(
        violence_types=violence,
        departments=departments,
        incident_date=min(r.incident_date for r in reports),
        date_precision=first.date_precision or "day",
        work_context=first.work_context,
        description=description,
        vehicle=vehicle,
        report_identifier_ids=[i.id for r in reports for i in r.identifiers],
    )


def parts_from_alert(alert: Alert) -> AlertParts:
    return AlertParts(
        violence_types=list(alert.violence_types or []),
        departments=list(alert.departments or []),
        incident_date=alert.incident_date,
        date_precision=alert.date_precision,
        work_context=alert.work_context,
        description=dict(alert.aggressor_description or {}),
        vehicle=dict(alert.vehicle or {}),
        severity=alert.severity,
        summary=alert.summary or "",
        translations={t.language: t.summary for t in alert.translations},
    )


def _add(errors: dict, name: str, message: object) -> None:
    errors.setdefault(name, []).append(message)


def _validate_codes(parts: AlertParts, errors: dict) -> None:
    if not parts.violence_types:
        _add(errors, "violence_types", _l("Choose at least one type of violence."))
    if any(v not in VIOLENCE_TYPES for v in parts.violence_types):
        _add(errors, "violence_types", _l("Unknown type of violence."))
    if not parts.departments:
        _add(errors, "departments", _l("Choose at least one department."))
    if any(d not in DEPARTMENTS for d in parts.departments):
        _add(errors, "departments", _l("Unknown department."))
    if parts.date_precision not in DATE_PRECISIONS:
        _add(errors, "date_precision", _l("Unknown date precision."))
    if parts.incident_date and parts.incident_date > utcnow().date():
        _add(errors, "incident_date", _l("The date cannot be in the future."))
    if parts.work_context and parts.work_context not in WORK_CONTEXTS:
        _add(errors, "work_context", _l("Unknown work context."))


def _validate_description(parts: AlertParts, errors: dict) -> None:
    for key, value in parts.description.items():
        if key in DESCRIPTION_CHOICES:
            if value and value not in DESCRIPTION_CHOICES[key]:
                _add(errors, f"description.{key}", _l("Choose a value from the list."))
        elif key in DESCRIPTION_FREE_TEXT:
            if value and len(str(value)) > FREE_TEXT_MAX_LENGTH:
                _add(errors, f"description.{key}", _too_long())
        elif key == "languages":
            if not isinstance(value, list) or any(
                not isinstance(v, str) or not re.fullmatch(r"[a-z]{2,3}", v) for v in value
            ):
                _add(errors, "description.languages", _l("Give language codes such as fr, ro."))
        else:
            _add(errors, f"description.{key}", _l("Unknown field."))
    for key, value in parts.vehicle.items():
        if key not in VEHICLE_FIELDS:
            _add(errors, f"vehicle.{key}", _l("Unknown field."))
        elif value and len(str(value)) > FREE_TEXT_MAX_LENGTH:
            _add(errors, f"vehicle.{key}", _too_long())


def _too_long() -> object:
    return _l("Too long (%(max)d characters at most).", max=FREE_TEXT_MAX_LENGTH)


def _validate_texts(parts: AlertParts, errors: dict) -> None:
    if len(parts.summary or "") > SUMMARY_MAX_LENGTH:
        _add(
            errors, "summary", _l("Too long (%(max)d characters at most).", max=SUMMARY_MAX_LENGTH)
        )
    for language, summary in parts.translations.items():
        if language not in ALERT_LANGUAGES or language == "fr":
            _add(errors, f"translations.{language}", _l("Unknown alert language."))
        elif len(summary or "") > SUMMARY_MAX_LENGTH:
            _add(
                errors,
                f"translations.{language}",
                _l("Too long (%(max)d characters at most).", max=SUMMARY_MAX_LENGTH),
            )


def _validate_severity(parts: AlertParts, errors: dict) -> str:
    derived = severity_for(parts.violence_types)
    if parts.severity is None:
        return derived
    if parts.severity not in SEVERITIES:
        _add(errors, "severity", _l("Unknown severity."))
        return derived
    if SEVERITY_RANK[parts.severity] < SEVERITY_RANK[derived]:
        _add(
            errors,
            "severity",
            _l(
                "The severity cannot be lower than the one derived from the violence "
                "(%(derived)s).",
                derived=SEVERITIES[derived],
            ),
        )
        return derived
    return parts.severity


def _normalised_extra(parts: AlertParts, errors: dict) -> list[tuple[str, str]]:
    result = []
    for kind, value in parts.extra_identifiers:
        try:
            result.append((kind, identifiers.normalise(kind, value)))
        except identifiers.InvalidIdentifier:
            _add(errors, "identifiers", _l("An identifier you typed is not valid for its kind."))
    return result


def validate_parts(parts: AlertParts) -> tuple[str, list[tuple[str, str]]]:
    """(severity to store, normalised extra identifiers); raises AlertError with errors."""
    errors: dict[str, list] = {}
    _validate_codes(parts, errors)
    _validate_description(parts, errors)
    _validate_texts(parts, errors)
    severity = _validate_severity(parts, errors)
    extra = _normalised_extra(parts, errors)
    if errors:
        raise AlertError(_l("The alert has errors; see the fields marked in red."), errors)
    return severity, extra


# --- identifiers ---------------------------------------------------------------------------


def _alert_identifier_aad(row: AlertIdentifier) -> bytes:
    return associated_data(AlertIdentifier.__tablename__, "value_sealed", row.row_uid, None)


alert_identifier_aad = _alert_identifier_aad  # for key rotation's re-sealing


def report_identifier_value(row: ReportIdentifier) -> str:
    """The normalised value of a report's identifier (root-key sealed, lookup class)."""
    return intake.identifier_value(row)


def alert_identifier_value(row: AlertIdentifier) -> str:
    return keyring().open(row.value_sealed, _alert_identifier_aad(row))


def _new_identifier(kind: str, normalised: str, platform: str | None) -> AlertIdentifier:
    row = AlertIdentifier(kind=kind, platform=platform, row_uid=new_row_uid())
    row.blind_index = keyring().blind_index(kind, normalised)
    row.value_sealed = keyring().seal(normalised, _alert_identifier_aad(row))
    return row


def _chosen_identifiers(
    reports: Sequence[Report], parts: AlertParts, extra: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(kind, blind index) -> (normalised value, platform) of what the alert publishes."""
    chosen = set(parts.report_identifier_ids)
    wanted: dict[tuple[str, str], tuple[str, str | None]] = {}
    for report in reports:
        for source in report.identifiers:
            if source.id in chosen and (source.kind, source.blind_index) not in wanted:
                wanted[(source.kind, source.blind_index)] = (
                    report_identifier_value(source),
                    source.platform,
                )
    for kind, value in extra:
        wanted.setdefault((kind, keyring().blind_index(kind, value)), (value, None))
    return wanted


def _sync_identifiers(alert: Alert, wanted: dict[tuple[str, str], tuple[str, str | None]]) -> None:
    # Rows are kept, not replaced: the ORM inserts before it deletes, and a replaced row
    # with the same (kind, blind index) would hit the unique constraint.
    kept = [row for row in alert.identifiers if (row.kind, row.blind_index) in wanted]
    present = {(row.kind, row.blind_index) for row in kept}
    added = [
        _new_identifier(kind, value, platform)
        for (kind, index), (value, platform) in wanted.items()
        if (kind, index) not in present
    ]
    alert.identifiers = kept + added


# --- composing -----------------------------------------------------------------------------


def check_reports(reports: Sequence[Report]) -> None:
    if not reports:
        raise AlertError(_l("An alert needs at least one report."))
    for report in reports:
        if report.status not in ("in_review", "approved") and not is_freed(report):
            raise AlertError(
                _l(
                    "Report %(reference)s is %(status)s: only reports in review or approved "
                    "can go into an alert.",
                    reference=report.reference,
                    status=moderation.STATUSES.get(report.status, report.status),
                )
            )
        if not report.consent_publish_alert:
            raise AlertError(
                _l(
                    "The victim of report %(reference)s did not consent to an alert.",
                    reference=report.reference,
                )
            )


def _fill(alert: Alert, parts: AlertParts, severity: str) -> None:
    alert.violence_types = list(parts.violence_types)
    alert.departments = list(dict.fromkeys(parts.departments))
    alert.incident_date = parts.incident_date
    alert.date_precision = parts.date_precision
    alert.work_context = parts.work_context or None
    alert.aggressor_description = {k: v for k, v in parts.description.items() if v}
    alert.vehicle = {k: v for k, v in parts.vehicle.items() if v}
    alert.severity = severity
    alert.summary = (parts.summary or "").strip() or None
    kept_rows = [row for row in alert.department_rows if row.department in alert.departments]
    present = {row.department for row in kept_rows}
    alert.department_rows = kept_rows + [
        AlertDepartment(department=d) for d in alert.departments if d not in present
    ]
    wanted = {lang: text.strip() for lang, text in parts.translations.items() if text.strip()}
    kept = []
    for translation in alert.translations:
        if translation.language in wanted:
            translation.summary = wanted.pop(translation.language)
            kept.append(translation)
    alert.translations = kept + [AlertTranslation(language=k, summary=v) for k, v in wanted.items()]


def compose(
    reports: Sequence[Report],
    actor,
    parts: AlertParts | None = None,
    *,
    now: dt.datetime | None = None,
) -> Alert:
    """A draft alert from reports (the moderator reviews it before publishing)."""
    now = now or utcnow()
    check_reports(reports)
    parts = parts or parts_from_reports(reports)
    severity, extra = validate_parts(parts)
    _reopen_freed(reports, actor, now)
    alert = Alert(status="draft", created_by_id=getattr(actor, "id", None), created_at=now)
    _fill(alert, parts, severity)
    alert.report_links = [AlertReport(report=r, added_at=now) for r in reports]
    _sync_identifiers(alert, _chosen_identifiers(reports, parts, extra))
    alert.reports_count = len(reports)
    alert.reference = next_reference("A", now)
    db.session.add(alert)
    db.session.flush()
    audit.record("alert_drafted", alert, details={"reports": len(reports)})
    return alert


def candidate_reports(reports: Sequence[Report]) -> list[Report]:
    """Reports that could join an alert made of ``reports``: in review or approved, with
    consent to an alert, and sharing an identifier with one of them."""
    seen = {report.id for report in reports}
    found = []
    for report in reports:
        for other, _kinds in moderation.linked_reports(report):
            if (
                other.id not in seen
                and other.status in ("in_review", "approved")
                and other.consent_publish_alert
            ):
                seen.add(other.id)
                found.append(other)
    return found


def reports_awaiting_alert(limit: int = 200) -> list[Report]:
    """Approved reports, and archived ones freed by the retraction of their alerts (see
    ``is_freed``), oldest first: what the composer offers to start an alert from."""
    found = list(
        db.session.scalars(
            select(Report)
            .where(or_(Report.status == "approved", _maybe_freed()))
            .order_by(Report.received_at)
            .limit(limit)
        )
    )
    return [r for r in found if r.status == "approved" or is_freed(r)]


def _maybe_freed():
    """Archived reports with consent that went into retracted alerts only (SQL side)."""
    linked = AlertReport.report_id == Report.id
    return and_(
        Report.status == "archived",
        Report.consent_publish_alert.is_(True),
        exists().where(linked, AlertReport.alert_id == Alert.id, Alert.status == "retracted"),
        ~exists().where(linked, AlertReport.alert_id == Alert.id, Alert.status != "retracted"),
    )


def is_freed(report: Report) -> bool:
    """Whether an archived report may feed a new alert: every alert it went into was
    retracted (not expired), the victim still consents to an alert and the report was not
    erased. Retraction no longer strands its reports (issue 18.6)."""
    if report.status != "archived" or not report.consent_publish_alert:
        return False
    key = report.data_key
    if key is not None and key.destroyed_at is not None:
        return False
    statuses = [alert.status for alert in alerts_of_report(report)]
    return bool(statuses) and all(status == "retracted" for status in statuses)


def _reopen_freed(reports: Sequence[Report], actor, now: dt.datetime) -> None:
    """Bring freed reports back to "approved" (their history says so) before a new draft."""
    for report in reports:
        if is_freed(report):
            retracted = alerts_of_report(report)[-1]
            details = {"alert": retracted.reference}
            moderation.perform(report, "reopen", actor, details=details, alert=retracted, now=now)


def alerts_of_report(report: Report) -> list[Alert]:
    """The alerts a report went into, oldest first."""
    return list(
        db.session.scalars(
            select(Alert)
            .join(AlertReport, AlertReport.alert_id == Alert.id)
            .where(AlertReport.report_id == report.id)
            .order_by(Alert.created_at)
        )
    )


def _check_alert_version(alert: Alert, expected_version: int | None) -> None:
    if expected_version is not None and alert.version_id != int(expected_version):
        raise AlertChanged()


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise AlertChanged() from None


def update_draft(
    alert: Alert,
    actor,
    parts: AlertParts,
    *,
    expected_version: int | None = None,
    reports: Sequence[Report] | None = None,
) -> Alert:
    """Change a draft's parts (and, optionally, the reports it is made from)."""
    _check_alert_version(alert, expected_version)
    if alert.status != "draft":
        raise AlertError(_l("Only a draft can be edited; retract a published alert instead."))
    reports = list(reports) if reports is not None else alert.reports
    check_reports(reports)
    severity, extra = validate_parts(parts)
    _reopen_freed(reports, actor, utcnow())
    _fill(alert, parts, severity)
    links = [link for link in alert.report_links if link.report_id in {r.id for r in reports}]
    linked = {link.report_id for link in links}
    alert.report_links = links + [AlertReport(report=r) for r in reports if r.id not in linked]
    wanted = _chosen_identifiers(reports, parts, extra)
    for row in alert.identifiers:
        if row.id in parts.kept_identifier_ids:
            wanted.setdefault(
                (row.kind, row.blind_index), (alert_identifier_value(row), row.platform)
            )
    _sync_identifiers(alert, wanted)
    alert.reports_count = len(reports)
    alert.updated_at = utcnow()  # bumps the version even when only child rows changed
    audit.record("alert_draft_updated", alert, details={"reports": len(reports)})
    _flush()
    return alert


def discard_draft(alert: Alert, actor, *, expected_version: int | None = None) -> None:
    _check_alert_version(alert, expected_version)
    if alert.status != "draft":
        raise AlertError(_l("Only a draft can be discarded."))
    audit.record("alert_draft_discarded", alert)
    db.session.delete(alert)
    _flush()


def typed_identifiers(alert: Alert) -> list[AlertIdentifier]:
    """A draft's identifiers that come from no report (typed by the moderator)."""
    from_reports = {(i.kind, i.blind_index) for r in alert.reports for i in r.identifiers}
    return [row for row in alert.identifiers if (row.kind, row.blind_index) not in from_reports]


def selected_identifier_ids(alert: Alert) -> set[int]:
    """The report identifiers a draft publishes (for ticking the composer's boxes)."""
    published = {(i.kind, i.blind_index) for i in alert.identifiers}
    return {
        i.id for r in alert.reports for i in r.identifiers if (i.kind, i.blind_index) in published
    }


# --- rendering -----------------------------------------------------------------------------


def content_of(alert: Alert) -> AlertContent:
    """The alert's public fields, as the renderers (and the PDF) need them."""
    shown = tuple(
        (row.kind, identifiers.display(row.kind, alert_identifier_value(row)))
        for row in alert.identifiers
    )
    summaries = {t.language: t.summary for t in alert.translations}
    if alert.summary:
        summaries["fr"] = alert.summary
    return AlertContent(
        reference=alert.reference,
        severity=alert.severity,
        violence_types=tuple(alert.violence_types or ()),
        departments=tuple(alert.departments or ()),
        incident_date=alert.incident_date,
        date_precision=alert.date_precision,
        work_context=alert.work_context,
        description=dict(alert.aggressor_description or {}),
        vehicle=dict(alert.vehicle or {}),
        identifiers=shown,
        summaries=summaries,
        reports_count=alert.reports_count,
        published_at=alert.published_at,
    )


def previews(alert: Alert) -> dict[str, RenderedAlert]:
    content = content_of(alert)
    return {language: render_alert(content, language) for language in alert_languages()}


# --- publication ---------------------------------------------------------------------------


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _free_texts(alert: Alert) -> list[str]:
    texts = [alert.summary or ""] + [t.summary for t in alert.translations]
    texts += [str(alert.aggressor_description.get(k) or "") for k in DESCRIPTION_FREE_TEXT]
    texts += [str(v or "") for v in (alert.vehicle or {}).values()]
    return [t for t in texts if t]


def _victim_details(report: Report) -> list[str]:
    details = moderation.redacted_values(report)
    for name in ("victim_pseudonym", "victim_phone", "victim_email"):
        if getattr(report, f"{name}_sealed", None):
            try:
                details.append(getattr(report, name) or "")
            except DecryptionError:
                continue  # erased (crypto-shredded): nothing left that could leak
    return [d for d in details if len(d.strip()) >= 3]


def leaked_details(alert: Alert) -> list[str]:
    """References of the reports whose redacted or declared victim details the alert repeats.

    Names are compared without case or accents; phone-like details by their digits.
    """
    return _reports_repeated_in(_free_texts(alert), alert.reports)


def _reports_repeated_in(texts: list[str], reports: Iterable[Report]) -> list[str]:
    folded = [_fold(t) for t in texts]
    digits = [_digits(t) for t in texts]
    leaks = []
    for report in reports:
        for detail in _victim_details(report):
            number = _digits(detail)
            if len(number) >= 6 and any(number[-9:] in d for d in digits):
                leaks.append(report.reference)
                break
            word = _fold(detail)
            if not number and any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", f) for f in folded):
                leaks.append(report.reference)
                break
    return leaks


def outgoing_texts(alert: Alert) -> list[text_review.OutgoingText]:
    """Every free text the alert sends out, each with the language it is written in."""
    texts = [text_review.OutgoingText("summary", "fr", alert.summary or "")]
    texts += [
        text_review.OutgoingText(f"summary_{t.language}", t.language, t.summary or "")
        for t in alert.translations
    ]
    description = alert.aggressor_description or {}
    texts += [
        text_review.OutgoingText(f"description.{k}", "fr", str(description.get(k) or ""))
        for k in DESCRIPTION_FREE_TEXT
    ]
    texts += [
        text_review.OutgoingText(f"vehicle.{k}", "fr", str(v or ""))
        for k, v in sorted((alert.vehicle or {}).items())
    ]
    return [t for t in texts if t.text.strip()]


def text_findings(alert: Alert) -> list[text_review.TextFinding]:
    """The victim details the anonymisation assistant finds in the alert's outgoing texts.

    The alert's own identifiers are the aggressor's: they are kept, not findings.
    """
    values = [(row.kind, alert_identifier_value(row)) for row in alert.identifiers]
    keep = [value for _, value in values] + [identifiers.display(k, v) for k, v in values]
    return text_review.find(outgoing_texts(alert), keep, alert.text_reviews or [])


def review_text_finding(
    alert: Alert, actor, key: str, reason: str, *, expected_version: int | None = None
) -> dict:
    """Mark one finding of the assistant reviewed, with the moderator's reason (audited)."""
    _check_alert_version(alert, expected_version)
    if alert.status != "draft":
        raise AlertError(_l("Only a draft's texts are reviewed."))
    try:
        review = text_review.mark_reviewed(alert, text_findings(alert), key, reason, actor)
    except text_review.ReviewRefused as refused:
        raise AlertError(refused.message, {"reason": [refused.message]}) from refused
    _flush()
    return review


def _check_texts(alert: Alert) -> None:
    blocking = [f for f in text_findings(alert) if f.blocking]
    if blocking:
        raise AlertError(
            _l(
                "The anonymisation assistant found %(count)s possible victim detail(s) in the "
                "texts of the alert (%(fields)s). Remove them, or mark each one reviewed with "
                "a reason, before publishing.",
                count=len(blocking),
                fields=", ".join(sorted({f.field for f in blocking})),
            )
        )


def _check_outgoing(alert: Alert) -> None:
    """The publication safety check (victim details redacted or found in the texts)."""
    leaks = leaked_details(alert)
    if leaks:
        raise AlertError(
            _l(
                "The alert's text repeats a detail of the victim redacted in report "
                "%(reference)s. Remove it before publishing.",
                reference=", ".join(leaks),
            )
        )
    _check_texts(alert)


def publish(
    alert: Alert, actor, *, expected_version: int | None = None, now: dt.datetime | None = None
) -> Alert:
    """Put a draft alert live, publish its reports and record that dispatch is due."""
    now = now or utcnow()
    _check_alert_version(alert, expected_version)
    if alert.status != "draft":
        raise AlertError(_l("This alert is not a draft: it cannot be published again."))
    if not alert.reports:
        raise AlertError(_l("An alert needs at least one report."))
    for report in alert.reports:
        if report.status != "approved":
            raise AlertError(
                _l(
                    "Report %(reference)s must be approved before the alert is published.",
                    reference=report.reference,
                )
            )
        # Every report is checked first, so a refusal changes nothing.
        moderation.check_allowed(report, "publish", actor, now)
        moderation.check_publishable(report)
    _check_outgoing(alert)
    for report in alert.reports:
        moderation.perform(
            report, "publish", actor, details={"alert": alert.reference}, alert=alert, now=now
        )
    alert.status = "published"
    alert.published_at = now
    alert.published_by_id = getattr(actor, "id", None)
    alert.expires_at = add_months(now, expiry_months())
    alert.dispatch_requested_at = now
    alert.reports_count = len(alert.reports)
    audit.record("alert_published", alert, details={"reports": alert.reports_count})
    _flush()
    # The outbox is written in the publication's transaction: published means queued.
    outbox.enqueue_alert(alert, now=now)
    return alert


def retract(
    alert: Alert,
    actor,
    reason: str,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Alert:
    """Take a published alert down at once (feed and check); its reports are archived."""
    now = now or utcnow()
    _check_alert_version(alert, expected_version)
    if alert.status != "published":
        raise AlertError(_l("Only a published alert can be retracted."))
    reason = (reason or "").strip()
    if not reason:
        raise AlertError(
            _l("Give a reason: it is kept with the alert."),
            {"reason": [_l("Give a reason: it is kept with the alert.")]},
        )
    if len(reason) > moderation.REASON_MAX_LENGTH:
        raise AlertError(_l("The reason is too long."), {"reason": [_l("The reason is too long.")]})
    live = [report for report in alert.reports if report.status == "published"]
    for report in live:
        moderation.check_allowed(report, "retract", actor, now)
    for report in alert.reports:
        if report.status == "published":
            moderation.perform(
                report,
                "retract",
                actor,
                reason=reason,
                details={"alert": alert.reference},
                alert=alert,
                now=now,
            )
    alert.status = "retracted"
    alert.retracted_at = now
    alert.retracted_by_id = getattr(actor, "id", None)
    alert.retraction_reason = reason
    audit.record("alert_retracted", alert)
    _flush()
    return alert


# --- corrections and strengthening of a published alert (issue 18.6) -------------------------

VERSION_KINDS = {"correction": _l("Correction"), "strengthening": _l("Report attached")}
CHANGE_LABELS = {
    "identifiers": _l("Identifiers"),
    "summary": _l("Summary"),
    "translations": _l("Translations"),
    "severity": _l("Severity"),
    "violence_types": _l("Types of violence"),
    "departments": _l("Departments"),
    "incident_date": _l("Date"),
    "date_precision": _l("Date precision"),
    "work_context": _l("Work context"),
    "aggressor_description": _l("Description"),
    "vehicle": _l("Vehicle"),
    "reports_count": _l("Number of reports"),
}


def _alert_version_aad(row: AlertVersion) -> bytes:
    return associated_data(AlertVersion.__tablename__, "identifiers_sealed", row.row_uid, None)


alert_version_aad = _alert_version_aad  # for key rotation's re-sealing


def _snapshot(alert: Alert) -> dict:
    """The public parts of the alert as they read now (no identifier: those are sealed)."""
    return {
        "summary": alert.summary,
        "translations": {t.language: t.summary for t in alert.translations},
        "severity": alert.severity,
        "violence_types": list(alert.violence_types or []),
        "departments": list(alert.departments or []),
        "incident_date": alert.incident_date.isoformat() if alert.incident_date else None,
        "date_precision": alert.date_precision,
        "work_context": alert.work_context,
        "aggressor_description": dict(alert.aggressor_description or {}),
        "vehicle": dict(alert.vehicle or {}),
        "reports_count": alert.reports_count,
    }


def _identifier_keys(alert: Alert) -> set[tuple[str, str]]:
    return {(row.kind, row.blind_index) for row in alert.identifiers}


def _supersede(alert: Alert, kind: str, actor, reason: str | None, now) -> AlertVersion:
    """The current version, kept in the history before the alert changes."""
    version = AlertVersion(
        number=alert.version_number,
        kind=kind,
        snapshot=_snapshot(alert),
        row_uid=new_row_uid(),
        reason=reason,
        superseded_at=now,
        superseded_by_id=getattr(actor, "id", None),
        changes=[],
        notices=0,
    )
    values = [[row.kind, alert_identifier_value(row), row.platform] for row in alert.identifiers]
    version.identifiers_sealed = keyring().seal(json.dumps(values), _alert_version_aad(version))
    return version


def _changes(before: dict, before_keys: set, alert: Alert) -> list[str]:
    after = _snapshot(alert)
    changed = [name for name in CHANGE_LABELS if name in after and before[name] != after[name]]
    if before_keys != _identifier_keys(alert):
        changed.insert(0, "identifiers")
    return changed


def _require_live(alert: Alert, actor, now: dt.datetime) -> None:
    if not can("moderate", actor):
        raise OutOfScope("Alert")
    if alert.status != "published" or (alert.expires_at and alert.expires_at <= now):
        raise AlertError(_l("Only a live alert can be corrected or strengthened."))


def _clean_version_reason(
    reason: str | None, required: bool, reports: Iterable[Report] = ()
) -> str | None:
    reason = (reason or "").replace("\x00", "").strip() or None
    if required and not reason:
        message = _l("Say what was wrong: it is kept in the alert's history.")
        raise AlertError(message, {"reason": [message]})
    if reason and len(reason) > moderation.REASON_MAX_LENGTH:
        raise AlertError(_l("The reason is too long."), {"reason": [_l("The reason is too long.")]})
    _refuse_details_in_reason(reason, reports)
    return reason


# What the assistant finds with few false alarms; a name or an age it may see in any
# capitalised word or number ("Numéro corrigé"), and a reason cannot be "marked reviewed".
REASON_DETAIL_TYPES = frozenset({"PHONE", "EMAIL", "PLATE", "URL", "HANDLE", "ADDRESS"})


def _refuse_details_in_reason(reason: str | None, reports: Iterable[Report]) -> None:
    """The reason is kept in clear in the alert's history: it says what was wrong ("un
    chiffre du numéro était faux"), never the wrong number itself, which may be an innocent
    person's, an address, or a detail of the victims of the alert's reports."""
    if not reason:
        return
    locale = get_locale()
    language = locale.language if locale is not None else "fr"
    spans = anonymise.propose_redaction(reason, language).spans
    labels = [str(SPAN_LABELS[s.type]).lower() for s in spans if s.type in REASON_DETAIL_TYPES]
    if _reports_repeated_in([reason], reports):
        labels.append(str(_l("a detail of the victim")))
    if labels:
        message = _l(
            "Say what was wrong without writing the detail itself (%(kinds)s): the reason "
            "is kept as written in the alert's history.",
            kinds=", ".join(dict.fromkeys(labels)),
        )
        raise AlertError(message, {"reason": [message]})


def correction_parts(alert: Alert, typed: AlertParts) -> AlertParts:
    """What a correction may change — texts, severity and identifiers — over the alert's parts
    as published; the rest (description, vehicle, types, departments) stays as it is."""
    parts = parts_from_alert(alert)
    parts.summary = typed.summary
    parts.translations = typed.translations
    parts.severity = typed.severity
    parts.kept_identifier_ids = typed.kept_identifier_ids
    parts.extra_identifiers = typed.extra_identifiers
    return parts


def correct(
    alert: Alert,
    actor,
    parts: AlertParts,
    reason: str,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> AlertVersion:
    """Correct a published alert as a new version (a wrong digit in a number, a plate...).

    The version it replaces is kept (``AlertVersion``: texts, sealed identifiers, who, when,
    what changed); the check and the feed use the corrected identifiers at once (a removed
    identifier no longer matches); the corrected texts pass the same safety check as a
    publication; those who received the alert get a correction notice, once, through the
    outbox. Refused (nothing changed) with ``AlertError``; the caller rolls back.
    """
    now = now or utcnow()
    _require_live(alert, actor, now)
    _check_alert_version(alert, expected_version)
    reason = _clean_version_reason(reason, required=True, reports=alert.reports)
    parts = correction_parts(alert, parts)
    severity, extra = validate_parts(parts)
    before, before_keys = _snapshot(alert), _identifier_keys(alert)
    version = _supersede(alert, "correction", actor, reason, now)
    wanted = _chosen_identifiers(alert.reports, parts, extra)
    for row in alert.identifiers:
        if row.id in parts.kept_identifier_ids:
            wanted.setdefault(
                (row.kind, row.blind_index), (alert_identifier_value(row), row.platform)
            )
    _fill(alert, parts, severity)
    _sync_identifiers(alert, wanted)
    version.changes = _changes(before, before_keys, alert)
    if not version.changes:
        raise AlertError(_l("Nothing was changed: there is nothing to correct."))
    _check_outgoing(alert)
    return _new_version(alert, version, "correction", notify=True, now=now)


def _new_version(
    alert: Alert, version: AlertVersion, purpose: str, *, notify: bool, now: dt.datetime
) -> AlertVersion:
    alert.versions.append(version)
    alert.updated_at = now  # bumps the version even when only child rows changed
    _flush()
    number = alert.version_number
    if notify:
        version.notices = outbox.enqueue_revision(alert, purpose, number, now=now)
    action = "alert_corrected" if version.kind == "correction" else "alert_strengthened"
    audit.record(
        action,
        alert,
        details={"version": number, "changes": version.changes, "notices": version.notices},
    )
    _flush()
    return version


def refusal_of(change: Callable[[], object]) -> None:
    """Try ``change`` (a correction, an attachment) in a savepoint and undo it whatever
    happens: raises the ``AlertError`` or ``ModerationError`` it would meet, changes
    nothing. A confirmation page is shown only for a change that will be accepted (not
    "3 SMS will be sent", then a refusal)."""
    savepoint = db.session.begin_nested()
    try:
        change()
    finally:
        if savepoint.is_active:
            savepoint.rollback()


def attachable_report(reference: str) -> Report | None:
    """An approved report that could strengthen a live alert, by reference."""
    found = moderation.reports_by_reference([reference.strip()])
    return found[0] if found else None


def attach_report(
    alert: Alert,
    report: Report,
    actor,
    *,
    severity: str | None = None,
    notify: bool = True,
    reason: str | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> AlertVersion:
    """Strengthen a live alert with a later report about the same aggressor.

    The report (approved: consent, redaction reviewed) is published with the alert, which
    counts one more report ("reported 3 times") and may be raised in severity (never
    lowered). With ``notify``, those who received the alert get an update, once, through
    the outbox. The superseded version is kept in the history, like a correction's.
    """
    now = now or utcnow()
    _require_live(alert, actor, now)
    _check_alert_version(alert, expected_version)
    reason = _clean_version_reason(reason, required=False, reports=[*alert.reports, report])
    if report.id in {link.report_id for link in alert.report_links}:
        raise AlertError(_l("This report already backs the alert."))
    if report.status != "approved":
        raise AlertError(
            _l(
                "Report %(reference)s must be approved before it is attached to an alert.",
                reference=report.reference,
            )
        )
    moderation.check_allowed(report, "publish", actor, now)
    moderation.check_publishable(report)
    if severity is not None and (
        severity not in SEVERITIES or SEVERITY_RANK[severity] < SEVERITY_RANK[alert.severity]
    ):
        message = _l("The severity can be raised, not lowered.")
        raise AlertError(message, {"severity": [message]})
    before, before_keys = _snapshot(alert), _identifier_keys(alert)
    version = _supersede(alert, "strengthening", actor, reason, now)
    alert.report_links.append(AlertReport(report=report, added_at=now))
    alert.reports_count = len(alert.report_links)
    if severity is not None:
        alert.severity = severity
    _check_outgoing(alert)  # the new victim's details must not be in the texts either
    moderation.perform(
        report, "publish", actor, details={"alert": alert.reference}, alert=alert, now=now
    )
    version.changes = _changes(before, before_keys, alert)
    return _new_version(alert, version, "update", notify=notify, now=now)


@dataclass
class VersionView:
    """One version of an alert as the history shows it (identifiers opened, audited)."""

    number: int
    kind: str | None
    snapshot: dict
    identifiers: list[tuple[str, str]]
    changes: list[str]
    reason: str | None
    at: dt.datetime | None
    by: object
    notices: int
    current: bool = False


def version_history(alert: Alert, actor) -> list[VersionView]:
    """Every version of the alert, newest first (the current one included), for
    moderators; reading the superseded identifiers is audited (one event)."""
    if not can("moderate", actor):
        raise OutOfScope("Alert")
    current_identifiers = [
        (row.kind, identifiers.display(row.kind, alert_identifier_value(row)))
        for row in alert.identifiers
    ]
    rows = list(alert.versions)
    history = [
        VersionView(
            number=alert.version_number,
            kind=rows[-1].kind if rows else None,
            snapshot=_snapshot(alert),
            identifiers=current_identifiers,
            changes=rows[-1].changes if rows else [],
            reason=rows[-1].reason if rows else None,
            at=rows[-1].superseded_at if rows else alert.published_at,
            by=rows[-1].superseded_by if rows else alert.published_by,
            notices=rows[-1].notices if rows else 0,
            current=True,
        )
    ]
    for index in range(len(rows) - 1, -1, -1):
        row = rows[index]
        previous = rows[index - 1] if index else None
        values = json.loads(keyring().open(row.identifiers_sealed, _alert_version_aad(row)))
        history.append(
            VersionView(
                number=row.number,
                kind=previous.kind if previous else None,
                snapshot=row.snapshot,
                identifiers=[(k, identifiers.display(k, value)) for k, value, _p in values],
                changes=previous.changes if previous else [],
                reason=previous.reason if previous else None,
                at=previous.superseded_at if previous else alert.published_at,
                by=previous.superseded_by if previous else alert.published_by,
                notices=previous.notices if previous else 0,
            )
        )
    if rows:
        audit.record("alert_history_read", alert, details={"versions": len(rows)}, actor=actor)
    return history


def expire_due_alerts(now: dt.datetime | None = None) -> int:
    """Archive published alerts whose time is up (the ``expire_alerts`` job). Returns a count."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(Alert).where(Alert.status == "published", Alert.expires_at <= now)
        )
    )
    for alert in due:
        for report in alert.reports:
            if report.status == "published":
                moderation.perform(
                    report, "expire", None, details={"alert": alert.reference}, alert=alert, now=now
                )
        alert.status = "archived"
        alert.archived_at = now
        audit.record("alert_expired", alert)
    db.session.flush()
    return len(due)


# --- the public feed -----------------------------------------------------------------------


def live_condition(now: dt.datetime):
    return and_(
        Alert.status == "published", or_(Alert.expires_at.is_(None), Alert.expires_at > now)
    )


def _in_departments(departments: Sequence[str]):
    return Alert.id.in_(
        select(AlertDepartment.alert_id).where(AlertDepartment.department.in_(departments))
    )


def encode_cursor(alert: Alert) -> str:
    raw = json.dumps([alert.published_at.isoformat(), alert.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """Raises ValueError for anything that is not one of our cursors."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, identifier = json.loads(raw)
        return dt.datetime.fromisoformat(moment), int(identifier)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError("invalid cursor") from error


def live_alerts(
    *,
    since: dt.datetime | None = None,
    departments: Iterable[str] = (),
    cursor: str | None = None,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[Alert], str | None]:
    """Published, unexpired alerts, newest first, one page at a time (keyset cursor)."""
    now = now or utcnow()
    limit = limit or FEED_PAGE_SIZE
    statement = select(Alert).where(live_condition(now))
    if since is not None:
        statement = statement.where(Alert.published_at >= since)
    departments = [d for d in departments if d]
    if departments:
        statement = statement.where(_in_departments(departments))
    if cursor:
        moment, identifier = decode_cursor(cursor)
        statement = statement.where(
            or_(
                Alert.published_at < moment,
                and_(Alert.published_at == moment, Alert.id < identifier),
            )
        )
    rows = list(
        db.session.scalars(
            statement.options(selectinload(Alert.identifiers), selectinload(Alert.translations))
            .order_by(Alert.published_at.desc(), Alert.id.desc())
            .limit(limit + 1)
        )
    )
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def iso_utc(moment: dt.datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def feed_item(alert: Alert, language: str) -> dict:
    """One alert as ``GET /api/v1/alerts`` gives it (public fields only)."""
    content = content_of(alert)
    rendered = render_alert(content, language)
    return {
        "reference": alert.reference,
        "published_at": iso_utc(alert.published_at),
        "departments": list(content.departments),
        "violence_types": list(content.violence_types),
        "language": language,
        "title": rendered.title,
        "text": rendered.text,
        "aggressor": {
            "description": content.description,
            "vehicle": content.vehicle,
            "identifiers": [{"kind": k, "display": v} for k, v in content.identifiers],
        },
        "reports_count": alert.reports_count,
    }


def week_alerts(department: str, now: dt.datetime | None = None) -> list[Alert]:
    """The live alerts of one department published in the last seven days, newest first."""
    now = now or utcnow()
    alerts, _cursor = live_alerts(
        since=now - dt.timedelta(days=7), departments=[department], limit=500, now=now
    )
    return alerts


def live_alert_by_reference(reference: str, now: dt.datetime | None = None) -> Alert | None:
    return db.session.scalar(
        select(Alert).where(Alert.reference == reference, live_condition(now or utcnow()))
    )


# --- the back office's list ------------------------------------------------------------------


def sees_every_alert(actor) -> bool:
    """Moderators see drafts, retracted and archived alerts; everyone else live ones only."""
    return can("moderate", actor)


def visible_alert(reference: str, actor, now: dt.datetime | None = None) -> Alert:
    """The alert ``reference`` if this actor may read it (``OutOfScope`` otherwise: a 404)."""
    if sees_every_alert(actor):
        alert = db.session.scalar(select(Alert).where(Alert.reference == reference))
    else:
        alert = live_alert_by_reference(reference, now)
    if alert is None:
        raise OutOfScope("Alert")
    return alert


def get_alert(reference: str) -> Alert:
    """Any alert by reference, for the moderators' pages (``OutOfScope`` when unknown)."""
    alert = db.session.scalar(select(Alert).where(Alert.reference == reference))
    if alert is None:
        raise OutOfScope("Alert")
    return alert


def staff_alerts(
    actor,
    *,
    status: str | None = None,
    department: str | None = None,
    page: int = 1,
    page_size: int = 50,
    now: dt.datetime | None = None,
) -> Page:
    """One page of the alerts this actor may read, drafts first, then newest first.

    Moderators see every alert (``status``, when given, keeps that status only); everyone
    else the published, unexpired ones.
    """
    statement = select(Alert)
    if not sees_every_alert(actor):
        statement = statement.where(live_condition(now or utcnow()))
    elif status:
        statement = statement.where(Alert.status == status)
    if department:
        statement = statement.where(_in_departments([department]))
    ordered = statement.order_by(Alert.published_at.desc().nulls_first(), Alert.id.desc())
    return paginate(ordered, page, page_size)


# --- the identifier check ------------------------------------------------------------------


@dataclass
class CheckMatch:
    alert: str
    published_at: dt.datetime
    violence_types: list[str]
    reports_count: int

    def to_json(self) -> dict:
        return {
            "alert": self.alert,
            "published_at": iso_utc(self.published_at),
            "violence_types": list(self.violence_types),
            "reports_count": self.reports_count,
        }


@dataclass
class CheckResult:
    kind: str
    normalised: str
    matches: list[CheckMatch]
    # Back office only (moderators): reports carrying the identifier, whatever their status.
    reports: list[Report] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "normalised": self.normalised,
            "matches": [m.to_json() for m in self.matches],
        }


def _live_matches_statement():
    """The check's lookup, built once with bound parameters (kind, index, now).

    A Core statement on the tables, composed at import: building an ORM select on every call
    cost more than the indexed lookup itself (bench/check.py measures the two side by side).
    """
    alert, identifier = Alert.__table__.c, AlertIdentifier.__table__.c
    return (
        select(alert.reference, alert.published_at, alert.violence_types, alert.reports_count)
        .join_from(Alert.__table__, AlertIdentifier.__table__, identifier.alert_id == alert.id)
        .where(
            identifier.kind == bindparam("kind"),
            identifier.blind_index == bindparam("index"),
            alert.status == "published",
            or_(alert.expires_at.is_(None), alert.expires_at > bindparam("now")),
        )
        .order_by(alert.published_at.desc())
    )


_LIVE_MATCHES = _live_matches_statement()


def _live_matches(kind: str, index: str, now: dt.datetime) -> list:
    """(reference, published_at, violence_types, reports_count) of the live alerts naming
    the identifier, newest first, read on the check's own connections (``_check_engine``)."""
    with _check_engine().connect() as connection:
        return connection.execute(_LIVE_MATCHES, {"kind": kind, "index": index, "now": now}).all()


def _check_engine() -> Engine:
    """A small pool of autocommit connections for the check's lookup, made once per app.

    The check reads published (committed) alerts only, so it needs no transaction: on these
    connections it is one round trip, never BEGIN and COMMIT around it, and it neither waits
    on nor lengthens the request's own transaction. Apart from the application's pool, the
    lookup also stays prepared: psycopg forgets a connection's prepared statements at every
    rollback, and on shared connections every refused request would make the next check
    plan its join again (bench/check.py: p95 from 2.8x to under 1x the bare lookup).
    """
    engine = current_app.extensions.get("check_engine")
    if engine is None:
        engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT", pool_size=5)
        current_app.extensions["check_engine"] = engine
    return engine


def normalise_for_check(value: object, kind: str | None) -> tuple[str, str]:
    """(kind, normalised value); raises InvalidIdentifier (whose message names no value)."""
    if not isinstance(value, str):
        raise identifiers.InvalidIdentifier(kind, "The identifier must be text.", "invalid")
    if len(value) > CHECK_VALUE_MAX_LENGTH:
        raise identifiers.InvalidIdentifier(kind, "The identifier is too long.", "too_long")
    kind = kind or identifiers.guess_kind(value)
    return kind, identifiers.normalise(kind, value)


def check_identifier(
    value: object,
    kind: str | None = None,
    *,
    source: str = "api",
    api_client_id: int | None = None,
    include_reports: bool = False,
    now: dt.datetime | None = None,
) -> CheckResult:
    """Look an identifier up among published, unexpired alerts, and count the check.

    ``include_reports`` (moderators in the back office only) adds every report carrying
    the identifier, published or not. The caller commits; the value is never written
    anywhere, only its kind and whether it matched are counted.
    """
    now = now or utcnow()
    kind, normalised = normalise_for_check(value, kind)
    index = keyring().blind_index(kind, normalised)
    matches = [CheckMatch(*row) for row in _live_matches(kind, index, now)]
    result = CheckResult(kind=kind, normalised=normalised, matches=matches)
    if include_reports:
        # IN, not JOIN + DISTINCT: PostgreSQL cannot compare the JSON columns of a report.
        naming = select(ReportIdentifier.report_id).where(
            ReportIdentifier.kind == kind, ReportIdentifier.blind_index == index
        )
        result.reports = list(
            db.session.scalars(
                select(Report).where(Report.id.in_(naming)).order_by(Report.received_at.desc())
            )
        )
    _count_check(kind, bool(matches), source, api_client_id or 0, now)
    return result


def field_check(value: object, kind: str | None, actor) -> CheckResult:
    """The check for staff who meet workers: published alerts only, counted as "field".

    Refused (``OutOfScope``) without the ``check_identifiers`` capability.
    """
    if not can("check_identifiers", actor):
        raise OutOfScope("check_identifiers")
    result = check_identifier(value, kind, source="field")
    audit.record(
        "identifier_checked",
        object_type="Identifier",
        details={"kind": result.kind, "alerts": len(result.matches), "source": "field"},
        actor=actor,
    )
    return result


# Check counters are kept in memory and written every CHECK_COUNT_FLUSH_SECONDS: a write
# and its commit on every check would cost more than the lookup itself (bench/check.py).
# A crash loses at most that many seconds of counts, which statistics can afford.
_check_counts: Counter = Counter()
_check_counts_lock = threading.Lock()
_check_counts_flushed = [time.monotonic()]


def _flush_seconds() -> float:
    if has_app_context():
        return float(current_app.config.get("CHECK_COUNT_FLUSH_SECONDS", 10))
    return 10.0


def _count_check(kind: str, matched: bool, source: str, client_id: int, now: dt.datetime) -> None:
    key = (now.date().replace(day=1), kind, matched, source, client_id)
    with _check_counts_lock:
        _check_counts[key] += 1
        due = time.monotonic() - _check_counts_flushed[0] >= _flush_seconds()
    if due:
        flush_check_counts()


def flush_check_counts() -> int:
    """Add the counts kept in memory to ``identifier_checks`` (the caller commits)."""
    with _check_counts_lock:
        pending = dict(_check_counts)
        _check_counts.clear()
        _check_counts_flushed[0] = time.monotonic()
    if not pending:
        return 0
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        # A lost increment on a crash is harmless; waiting for the disk is not needed.
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        insert = postgresql.insert
    else:
        insert = sqlite.insert
    table = IdentifierCheck.__table__
    for (month, kind, matched, source, client_id), count in sorted(pending.items()):
        statement = insert(table).values(
            month=month,
            kind=kind,
            matched=matched,
            source=source,
            api_client_id=client_id,
            count=count,
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    table.c.month,
                    table.c.kind,
                    table.c.matched,
                    table.c.source,
                    table.c.api_client_id,
                ],
                set_={"count": table.c.count + count},
            )
        )
    return sum(pending.values())


def flush_check_counts_job() -> None:
    """Scheduled: write this process's pending check counts."""
    flush_check_counts()
