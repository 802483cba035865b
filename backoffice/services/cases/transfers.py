"""Consent to sharing, and transfers.

A transfer needs the person's recorded consent to sharing with that named association; the
receiving association gets a new case with only the chosen items, the sender keeps its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    CONSENT_CHANNELS,
    TRANSFER_ITEMS,
    Case,
    CaseConsent,
    CaseFlag,
    CaseNeed,
    CaseNote,
    CaseTransfer,
)
from backoffice.models.organisation import Organisation
from backoffice.security import OutOfScope, scoped
from backoffice.services import audit
from backoffice.services.cases.contact import (
    Contact,
    apply_facts,
    facts_of,
    read_contact,
    seal_contact,
)
from backoffice.services.cases.notes import notes_of, read_note, seal_note
from backoffice.services.cases.opening import new_case
from backoffice.services.cases.operations import close_case
from backoffice.services.cases.rules import (
    CaseRuleError,
    check_code,
    check_codes,
    record_event,
    require_live,
)


def record_consent(case: Case, partner_id: int | None, channel: str, actor) -> CaseConsent:
    """She agreed to her case being shared with this named association."""
    require_live(case)
    check_code(channel, CONSENT_CHANNELS, "channel")
    partner = db.session.get(Organisation, partner_id) if partner_id else None
    if partner is None or not partner.active or partner.id == case.organisation_id:
        raise CaseRuleError(_("Choose another active partner association."), "partner_id")
    if active_consent(case, partner.id) is not None:
        raise CaseRuleError(_("This consent is already recorded."), "partner_id")
    consent = CaseConsent(
        case_id=case.id,
        organisation_id=case.organisation_id,
        partner_organisation_id=partner.id,
        channel=channel,
        given_at=utcnow(),
        recorded_by_id=actor.id,
    )
    db.session.add(consent)
    db.session.flush()
    record_event(case, "consent_recorded", actor, partner=partner.id, channel=channel)
    audit.record("case_consent_recorded", case, actor=actor, details={"partner": partner.id})
    return consent


def withdraw_consent(consent: CaseConsent, actor) -> None:
    if consent.withdrawn_at is not None:
        raise CaseRuleError(_("This consent was already withdrawn."))
    consent.withdrawn_at = utcnow()
    case = db.session.get(Case, consent.case_id)
    record_event(case, "consent_withdrawn", actor, partner=consent.partner_organisation_id)
    audit.record(
        "case_consent_withdrawn",
        case,
        actor=actor,
        details={"partner": consent.partner_organisation_id},
    )


def active_consent(case: Case, partner_id: int) -> CaseConsent | None:
    statement = select(CaseConsent).where(
        CaseConsent.case_id == case.id,
        CaseConsent.partner_organisation_id == partner_id,
        CaseConsent.withdrawn_at.is_(None),
    )
    return db.session.scalar(scoped(statement, CaseConsent, case))


def transfer_case(
    case: Case,
    partner_id: int | None,
    items: Iterable[str],
    note_ids: Iterable[int],
    actor,
    close_sender: bool = False,
) -> CaseTransfer:
    """Copy the chosen items into a new case of the partner; the sender keeps its own."""
    require_live(case)
    consent = active_consent(case, partner_id) if partner_id else None
    partner = db.session.get(Organisation, partner_id) if partner_id else None
    if consent is None or partner is None or not partner.active:
        raise CaseRuleError(
            _("No recorded consent to sharing with this association: record it first."),
            "partner_id",
        )
    items = check_codes(items, TRANSFER_ITEMS, "items")
    notes = _notes_to_transfer(case, note_ids)
    if not items and not notes:
        raise CaseRuleError(_("Choose at least one item to transfer."), "items")
    new = new_case(partner.id, "transfer", actor)
    new.intake_consent_share = case.intake_consent_share
    _copy_items(case, new, items)
    for note in notes:
        copy = CaseNote(case_id=new.id, created_at=note.created_at, transferred=True)
        seal_note(new, copy, read_note(note) or "")
        db.session.add(copy)
    transfer = CaseTransfer(
        from_case_id=case.id,
        to_case_id=new.id,
        from_organisation_id=case.organisation_id,
        to_organisation_id=partner.id,
        consent_id=consent.id,
        items=items,
        notes_count=len(notes),
        created_by_id=actor.id,
    )
    db.session.add(transfer)
    _record_transfer(case, new, items, len(notes), actor)
    if close_sender and case.status != "closed":
        close_case(case, "transferred", actor)
    return transfer


def _notes_to_transfer(case: Case, note_ids: Iterable[int]) -> list[CaseNote]:
    """The chosen notes with their corrections, in order; ids of other cases are refused."""
    wanted = {int(i) for i in note_ids}
    if not wanted:
        return []
    notes = db.session.scalars(notes_of(case)).all()
    if not wanted <= {n.id for n in notes}:
        raise OutOfScope("CaseNote")
    return [n for n in notes if n.id in wanted or n.corrects_id in wanted]


def _copy_items(case: Case, new: Case, items: list[str]) -> None:
    if "contact" in items:
        seal_contact(new, read_contact(case) or Contact())
    if "incident" in items:
        apply_facts(new, facts_of(case))
    if "needs" in items:
        new.needs = [CaseNeed(need=n.need, status=n.status) for n in case.needs]
    if "flags" in items:
        new.flags = [
            CaseFlag(organisation_id=new.organisation_id, kind=f.kind, deadline=f.deadline)
            for f in case.flags
            if f.resolved_at is None
        ]


def _record_transfer(case: Case, new: Case, items: list[str], notes: int, actor) -> None:
    details = {"items": items, "notes": notes}
    record_event(case, "transferred", actor, to=new.organisation_id, **details)
    record_event(new, "received", None, source_organisation=case.organisation_id, **details)
    audit.record(
        "case_transferred", case, actor=actor, details={"to": new.organisation_id, **details}
    )
    audit.record(
        "case_received",
        new,
        actor=actor,
        organisation_id=new.organisation_id,
        details={"from": case.organisation_id, **details},
    )


def transfers_of(case: Case) -> dict[str, list[CaseTransfer]]:
    """Transfers seen from this case: the ones it sent and the one it came from."""
    sent = sorted(
        (t for consent in case.consents for t in consent.transfers),
        key=lambda t: (t.created_at, t.id),
    )
    received = [case.received_transfer] if case.received_transfer is not None else []
    return {"sent": sent, "received": received}
