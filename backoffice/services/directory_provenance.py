"""Where a directory entry comes from, who checked it, and who may change a checked one.

* Every entry is unverified until a staff member calls the structure and marks it verified
  (``mark_verified``, audited); a verification older than a year is due again.
* A verified entry's contact details are what a social worker gives a victim. A partner
  association changing them (someone neither of the entry's owner organisation nor holding
  ``review_directory_changes``) makes a pending ``StructureChange`` instead; the owner
  organisation or a coordinator approves or refuses it (audited both ways).
* A command (no signed-in user) is an operator's act and is trusted like a reviewer.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import Select, select

from backoffice import security
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.organisation import Organisation
from backoffice.models.structure import CONTACT_FIELDS, Structure, StructureChange
from backoffice.services import audit

REVIEW_CAPABILITY = "review_directory_changes"
NOTE_MAX_LENGTH = 300


class ReviewError(ValueError):
    """The change cannot be reviewed (already reviewed, or not by this user)."""


def may_review(owner_organisation_id: int | None, actor=None) -> bool:
    """Whether the actor may change a verified entry's contact details directly (and review
    others' changes to it)."""
    actor = actor if actor is not None else security.current_user_or_none()
    if actor is None:
        return True
    if security.can(REVIEW_CAPABILITY, actor):
        return True
    organisation_id = getattr(actor, "organisation_id", None)
    return owner_organisation_id is not None and organisation_id == owner_organisation_id


def needs_review(verified: bool, owner_organisation_id: int | None, actor=None) -> bool:
    return verified and not may_review(owner_organisation_id, actor)


def contact_differences(current: Structure | Mapping, proposed: Mapping) -> dict[str, object]:
    """The contact fields whose proposed value differs from the current one."""

    def value(name: str):
        return current[name] if isinstance(current, Mapping) else getattr(current, name)

    return {
        name: proposed[name]
        for name in CONTACT_FIELDS
        if name in proposed and (proposed[name] or None) != (value(name) or None)
    }


def propose_change(structure_id: int, proposed: dict[str, object], actor=None) -> StructureChange:
    """Keep a partner association's change to a verified entry's contact details for review."""
    actor = actor if actor is not None else security.current_user_or_none()
    change = StructureChange(
        structure_id=structure_id,
        proposed=dict(proposed),
        status="pending",
        proposed_by_id=getattr(actor, "id", None),
        proposed_by_organisation_id=getattr(actor, "organisation_id", None),
        proposed_at=utcnow(),
    )
    db.session.add(change)
    db.session.flush()
    audit.record(
        "structure_change_proposed",
        object_type="Structure",
        object_id=structure_id,
        details={"change": change.id, "fields": sorted(proposed)},
    )
    return change


def mark_verified(structure: Structure, note: str | None, actor=None) -> None:
    """Record that someone checked the entry with the structure (by phone, in person…)."""
    actor = actor if actor is not None else security.current_user_or_none()
    note = " ".join((note or "").split())[:NOTE_MAX_LENGTH] or None
    if note is None:
        raise ReviewError(_("Say how the entry was checked (for instance: phone call)."))
    structure.verified_at = utcnow()
    structure.verified_by_id = getattr(actor, "id", None)
    structure.verification_note = note
    db.session.flush()
    audit.record("structure_verified", structure, details={"note_length": len(note)})


def pending_changes(actor=None) -> Select:
    """The pending changes this actor may review, oldest first."""
    actor = actor if actor is not None else security.current_user_or_none()
    statement = (
        select(StructureChange)
        .join(Structure, Structure.id == StructureChange.structure_id)
        .where(StructureChange.status == "pending")
    )
    if not security.can(REVIEW_CAPABILITY, actor):
        organisation_id = getattr(actor, "organisation_id", None)
        if organisation_id is None:
            return statement.where(False)
        statement = statement.where(Structure.owner_organisation_id == organisation_id)
    return statement.order_by(StructureChange.proposed_at, StructureChange.id)


def pending_count_for(structure_id: int) -> int:
    return len(
        db.session.scalars(
            select(StructureChange.id).where(
                StructureChange.structure_id == structure_id,
                StructureChange.status == "pending",
            )
        ).all()
    )


def review(change: StructureChange, approve: bool, actor=None) -> None:
    """Apply (approve) or drop (refuse) a pending change; the reviewer must be allowed."""
    actor = actor if actor is not None else security.current_user_or_none()
    if change.status != "pending":
        raise ReviewError(_("This change was already reviewed."))
    structure = change.structure
    if not may_review(structure.owner_organisation_id, actor):
        raise ReviewError(_("Only the structure's organisation or a coordinator may review."))
    if approve:
        for name, value in change.proposed.items():
            if name in CONTACT_FIELDS:
                setattr(structure, name, value)
        structure.updated_at = utcnow()
    change.status = "approved" if approve else "refused"
    change.reviewed_by_id = getattr(actor, "id", None)
    change.reviewed_at = utcnow()
    db.session.flush()
    audit.record(
        "structure_change_approved" if approve else "structure_change_refused",
        object_type="Structure",
        object_id=structure.id,
        details={"change": change.id, "fields": sorted(change.proposed)},
    )


def owner_choices() -> list[tuple[int, str]]:
    """The active partner associations an entry may be answered for by."""
    rows = db.session.execute(
        select(Organisation.id, Organisation.name)
        .where(Organisation.active.is_(True))
        .order_by(Organisation.name)
    )
    return [(row.id, row.name) for row in rows]


def may_set_owner(actor=None) -> bool:
    actor = actor if actor is not None else security.current_user_or_none()
    return security.can(REVIEW_CAPABILITY, actor)


def set_owner(structure: Structure, organisation_id: int | None, actor=None) -> None:
    """Name the partner association that answers for the entry (a coordinator's decision)."""
    if not may_set_owner(actor):
        raise ReviewError(_("Only a coordinator names the organisation answering for an entry."))
    if organisation_id is not None and organisation_id not in dict(owner_choices()):
        raise ReviewError(_("Choose an active partner association."))
    structure.owner_organisation_id = organisation_id
    db.session.flush()
    audit.record("structure_owner_set", structure, details={"organisation": organisation_id})
