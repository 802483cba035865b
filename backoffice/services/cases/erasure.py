"""Erasing the person: irreversible crypto-shredding of a case.

Erasure destroys the case's data key: contact details, notes, referral notes and action
details become unreadable for good (and their columns are cleared); the victim's contact in
the report the case came from is erased too. Only non-personal facts remain.
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    CASE_SEALED_COLUMNS,
    ERASURE_REASONS,
    Case,
    CaseEvidence,
    CaseNote,
    Complaint,
    FollowUpAction,
    Referral,
)
from backoffice.models.report import REDACTION_SEALED_COLUMNS, VICTIM_SEALED_COLUMNS, Report
from backoffice.security import scoped
from backoffice.services import audit, confidential
from backoffice.services.cases.rules import CaseRuleError, check_code, record_event

# The case's children sealed with its key, and their sealed column.
SEALED_CHILDREN = (
    (CaseNote, "body_sealed"),
    (Referral, "notes_sealed"),
    (FollowUpAction, "details_sealed"),
    (CaseEvidence, "image_sealed"),
    (CaseEvidence, "thumbnail_sealed"),
    (Complaint, "details_sealed"),
)


def _folded(text: str | None) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().replace("’", "'").split())


def erase_case(case: Case, reason: str, confirmation: str, actor) -> None:
    """ "Erase this person": irreversible; the reason chosen must be typed to confirm."""
    if case.is_erased:
        raise CaseRuleError(_("This case was already erased."))
    check_code(reason, ERASURE_REASONS, "reason")
    if _folded(confirmation) != _folded(str(ERASURE_REASONS[reason])):
        raise CaseRuleError(
            _("Type the reason exactly as shown to confirm the erasure."), "confirmation"
        )
    notes = _erase_children(case)
    confidential.shred(case, CASE_SEALED_COLUMNS)
    _erase_source_report(case)
    now = utcnow()
    case.erased_at, case.erased_by_id, case.erasure_reason = now, actor.id, reason
    if case.status != "closed":
        case.status, case.outcome, case.closed_at = "closed", "erased", now
    record_event(case, "erased", actor, reason=reason)
    audit.record("case_erased", case, actor=actor, details={"reason": reason, "notes": notes})


def _erase_children(case: Case) -> int:
    """Clear every ciphertext sealed with the case's key (the key goes next)."""
    counted = select(func.count(CaseNote.id)).where(CaseNote.case_id == case.id)
    notes = db.session.scalar(scoped(counted, CaseNote, case))
    for model, column in SEALED_CHILDREN:
        statement = scoped(update(model).where(model.case_id == case.id), model, case)
        db.session.execute(
            statement.values({column: None}), execution_options={"synchronize_session": False}
        )
    db.session.expire_all()
    return notes


def _erase_source_report(case: Case) -> None:
    """The victim's contact in the report the case came from goes too (nobody else uses it)."""
    if case.report_id is None:
        return
    report = db.session.get(Report, case.report_id)
    if report is not None:
        confidential.shred(report, [*VICTIM_SEALED_COLUMNS, *REDACTION_SEALED_COLUMNS])
        audit.record("report_victim_erased", report, details={"case": case.reference})
