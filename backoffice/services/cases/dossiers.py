"""A dossier for the police or a lawyer, only on her consent (National Ugly Mugs' promise).

She may agree to pass the aggressor's details (never hers) to a police station or to a
lawyer, and may add her testimony and the evidence. A social worker records that consent on
the case (``record_legal_consent``) and may withdraw it; a dossier is built only for a
recipient of the directory whose kind (police or lawyer) an active consent covers, and only
with the content it covers (``build_dossier`` checks it, whoever calls it). The dossier
states how many other reports name the same aggressor (by blind index, across associations)
and never their content. Its build is audited with the consent relied on; the PDF is not
kept, only what was shared. Without consent, only the published alert can be printed
(``published_alert_of``).

Rules never import the PDF package: the view passes ``render(context, images) -> bytes``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport
from backoffice.models.base import utcnow
from backoffice.models.case import (
    CONSENT_CHANNELS,
    LEGAL_RECIPIENTS,
    Case,
    CaseEvidence,
    Dossier,
    LegalConsent,
)
from backoffice.models.report import ReportIdentifier
from backoffice.models.structure import Structure
from backoffice.security import scoped
from backoffice.services import audit
from backoffice.services.cases.evidence import evidence_of
from backoffice.services.cases.rules import CaseRuleError, check_code, record_event, require_live
from backoffice.services.intake import identifier_value
from backoffice.services.references import next_reference
from backoffice.services.vocabulary import VIOLENCE_TYPES

# The directory category of each kind of recipient.
RECIPIENT_CATEGORIES = {"police": "police", "lawyer": "lawyer"}
Render = Callable[[dict, list[tuple[bytes, str]]], bytes]


# --- consent ------------------------------------------------------------------------------------


def record_legal_consent(
    case: Case, recipient_kind: str, testimony: bool, evidence: bool, channel: str, actor
) -> LegalConsent:
    """Her consent to a dossier for ``recipient_kind``: the aggressor's details, and her
    testimony and the evidence if she said so."""
    require_live(case)
    check_code(recipient_kind, LEGAL_RECIPIENTS, "recipient_kind")
    check_code(channel, CONSENT_CHANNELS, "channel")
    consent = LegalConsent(
        case_id=case.id,
        organisation_id=case.organisation_id,
        recipient_kind=recipient_kind,
        include_testimony=bool(testimony),
        include_evidence=bool(evidence),
        channel=channel,
        recorded_by_id=actor.id,
    )
    db.session.add(consent)
    db.session.flush()
    details = {"consent": consent.id, "recipient": recipient_kind}
    record_event(case, "legal_consent_recorded", actor, **details)
    audit.record(
        "case_legal_consent_recorded",
        consent,
        actor=actor,
        details={**details, "testimony": consent.include_testimony, "evidence": evidence},
    )
    return consent


def withdraw_legal_consent(consent: LegalConsent, actor) -> None:
    if consent.withdrawn_at is not None:
        raise CaseRuleError(_("This consent was already withdrawn."))
    consent.withdrawn_at, consent.withdrawn_by_id = utcnow(), actor.id
    case = db.session.get(Case, consent.case_id)
    record_event(case, "legal_consent_withdrawn", actor, consent=consent.id)
    audit.record(
        "case_legal_consent_withdrawn", consent, actor=actor, details={"consent": consent.id}
    )


def legal_consents_of(case: Case) -> list[LegalConsent]:
    statement = scoped(
        select(LegalConsent).where(LegalConsent.case_id == case.id), LegalConsent, case
    )
    return list(db.session.scalars(statement.order_by(LegalConsent.id)))


def dossiers_of(case: Case) -> list[Dossier]:
    statement = scoped(select(Dossier).where(Dossier.case_id == case.id), Dossier, case)
    return list(db.session.scalars(statement.order_by(Dossier.id)))


def recipients() -> list[Structure]:
    """Police stations and lawyers of the directory (active ones)."""
    statement = select(Structure).where(
        Structure.active.is_(True), Structure.category.in_(list(RECIPIENT_CATEGORIES.values()))
    )
    return list(db.session.scalars(statement.order_by(Structure.department, Structure.name)))


def published_alert_of(case: Case) -> Alert | None:
    """The alert published from the case's report: what may be printed without consent."""
    if case.report_id is None:
        return None
    statement = (
        select(Alert)
        .join(AlertReport, AlertReport.alert_id == Alert.id)
        .where(AlertReport.report_id == case.report_id, Alert.status == "published")
    )
    return db.session.scalars(statement.limit(1)).first()


# --- the dossier --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierRequest:
    structure_id: int | None
    testimony: bool
    evidence: bool


def _recipient(structure_id: int | None) -> tuple[Structure, str]:
    structure = db.session.get(Structure, structure_id) if structure_id else None
    kinds = {category: kind for kind, category in RECIPIENT_CATEGORIES.items()}
    if structure is None or not structure.active or structure.category not in kinds:
        raise CaseRuleError(
            _("Choose a police station or a lawyer from the directory."), "structure_id"
        )
    return structure, kinds[structure.category]


def active_consent(
    case: Case, kind: str, testimony: bool = False, evidence: bool = False
) -> LegalConsent | None:
    """Her latest active consent for ``kind`` covering the content asked, if any."""
    for consent in reversed(legal_consents_of(case)):
        if not consent.is_active or consent.recipient_kind != kind:
            continue
        if (testimony and not consent.include_testimony) or (
            evidence and not consent.include_evidence
        ):
            continue
        return consent
    return None


def dossier_consent_active(case: Case) -> bool:
    """Whether she agreed to a dossier for the police or a lawyer (the dossier form shows)."""
    return any(active_consent(case, kind) for kind in RECIPIENT_CATEGORIES)


def covering_consent(case: Case, kind: str, testimony: bool, evidence: bool) -> LegalConsent:
    """Her active consent for ``kind`` covering the content asked; refused otherwise."""
    consent = active_consent(case, kind, testimony, evidence)
    if consent is not None:
        return consent
    raise CaseRuleError(
        _(
            "She has not agreed to share this with %(recipient)s: record her consent first "
            "(without it, only the published alert can be printed).",
            recipient=str(LEGAL_RECIPIENTS[kind]).lower(),
        )
    )


def other_reports_count(case: Case) -> int:
    """Other reports naming one of the aggressor's identifiers, in every association: a
    count by blind index, never their content."""
    if case.report_id is None:
        return 0
    mine, other = ReportIdentifier, aliased(ReportIdentifier)
    statement = (
        select(func.count(func.distinct(other.report_id)))
        .select_from(mine)
        .join(
            other,
            and_(
                other.kind == mine.kind,
                other.blind_index == mine.blind_index,
                other.report_id != mine.report_id,
            ),
        )
        .where(mine.report_id == case.report_id)
    )
    return int(db.session.scalar(statement) or 0)


def _aggressor(case: Case) -> dict:
    report = case.report
    if report is None:
        raise CaseRuleError(
            _("This case was not opened from a report: there is no aggressor data to share.")
        )
    identifiers = [
        {"kind": row.kind, "value": identifier_value(row), "platform": row.platform}
        for row in report.identifiers
    ]
    audit.record_decryptions(list(report.identifiers), "value")
    return {
        "description": dict(report.aggressor_description or {}),
        "vehicle": dict(report.vehicle or {}),
        "identifiers": identifiers,
    }


def read_testimony(case: Case) -> str:
    """Her testimony as the report holds it (empty once the retention schedule shredded it)."""
    return case.report.narrative or ""


def _images(case: Case) -> list[tuple[bytes, str]]:
    images = []
    for row in evidence_of(case):
        evidence = db.session.get(CaseEvidence, row.id)
        images.append((base64.b64decode(evidence.image), evidence.content_type))
    return images


def build_dossier(
    case: Case, request: DossierRequest, actor, render: Render
) -> tuple[Dossier, bytes]:
    """The dossier's PDF for a recipient her consent covers; ``CaseRuleError`` otherwise."""
    require_live(case)
    structure, kind = _recipient(request.structure_id)
    consent = covering_consent(case, kind, request.testimony, request.evidence)
    aggressor = _aggressor(case)
    shared = ["aggressor", "incident"]
    testimony = read_testimony(case) if request.testimony else None
    if request.testimony:
        shared.append("testimony")
    images = _images(case) if request.evidence else []
    if request.evidence:
        shared.append("evidence")
    dossier = Dossier(
        reference=next_reference("D"),
        case_id=case.id,
        organisation_id=case.organisation_id,
        structure_id=structure.id,
        consent_id=consent.id,
        shared=shared,
        other_reports=other_reports_count(case),
        built_by_id=actor.id,
    )
    db.session.add(dossier)
    db.session.flush()
    context = _context(case, dossier, structure, consent, aggressor, testimony, len(images))
    pdf = render(context, images)
    record_event(case, "dossier_built", actor, dossier=dossier.reference, consent=consent.id)
    audit.record(
        "case_dossier_built",
        dossier,
        actor=actor,
        details={
            "reference": dossier.reference,
            "case": case.reference,
            "consent": consent.id,
            "recipient": structure.id,
            "shared": ",".join(shared),
        },
    )
    return dossier, pdf


def _context(case, dossier, structure, consent, aggressor, testimony, images: int) -> dict:
    """Primitive values only, for the template."""
    return {
        "reference": dossier.reference,
        "built_on": dossier.built_at.date().isoformat(),
        "recipient": {
            "name": structure.name,
            "city": structure.city,
            "kind": consent.recipient_kind,
        },
        "consent": {"given_on": consent.given_at.date().isoformat(), "channel": consent.channel},
        "incident": {
            "date": case.incident_date.isoformat() if case.incident_date else None,
            "department": case.department,
            "violence_types": [str(VIOLENCE_TYPES.get(v, v)) for v in case.violence_types or []],
        },
        "aggressor": aggressor,
        "testimony": testimony,
        "images": images,
        "shared": list(dossier.shared),
        "other_reports": dossier.other_reports,
    }
