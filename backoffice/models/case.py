"""The case aggregate: the follow-up of one victim by one partner association.

Data classes (DESIGN.md):

* confidential — the victim's name or pseudonym, phone, email, preferred language and contact
  instructions, the notes, referral notes and action details. All are sealed with THE CASE's
  data key: every child row points at the case's ``DataKey`` and has its own ``row_uid``, so
  its associated data binds each ciphertext to its table, row and organisation, while one
  destroyed key erases the whole case (crypto-shredding).
* clear and non-personal — reference, status, needs, urgent deadlines, dates, outcome,
  referral structures and statuses: what search, lists, reminders and statistics use, and what
  survives an erasure.

Every row is owned by the case's organisation (``organisation_id`` repeated on each child) so
that a row loaded by its own id is checked against the user's organisation without a join.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import (
    ConfidentialRecord,
    EncryptedText,
    OrganisationOwned,
    TimestampMixin,
    utcnow,
)
from backoffice.services.confidential import Sealed

CASE_STATUSES: dict[str, object] = {
    "open": _l("Open"),
    "active": _l("Active"),
    "waiting": _l("Waiting"),
    "closed": _l("Closed"),
}
CASE_SOURCES: dict[str, object] = {
    "routed": _l("Routed from a report"),
    "direct": _l("Opened in the field"),
    "transfer": _l("Received by transfer"),
}
CASE_OUTCOMES: dict[str, object] = {
    "needs_met": _l("Needs met"),
    "partially_met": _l("Needs partly met"),
    "person_declined": _l("The person no longer wants support"),
    "lost_contact": _l("Contact lost"),
    "transferred": _l("Transferred to another association"),
    "moved_away": _l("Moved away"),
    "erased": _l("Erased at the person's request"),
    "other": _l("Other"),
}
NEEDS: dict[str, object] = {
    "health": _l("Health"),
    "legal": _l("Legal"),
    "shelter": _l("Shelter"),
    "psychological": _l("Psychological"),
    "administrative": _l("Administrative and residence rights"),
    "financial": _l("Financial"),
}
NEED_STATUSES: dict[str, object] = {
    "identified": _l("Identified"),
    "in_progress": _l("In progress"),
    "met": _l("Met"),
    "unmet": _l("Not met"),
}
# Urgent flags and, where medicine fixes one, the delay counted from the incident.
URGENT_FLAGS: dict[str, object] = {
    "pep": _l("Post-exposure treatment (PEP) within 48 hours"),
    "emergency_contraception": _l("Emergency contraception within 5 days"),
    "injury_report": _l("Injury report (forensic medicine)"),
    "safety": _l("Immediate safety"),
    "shelter_tonight": _l("Shelter tonight"),
}
FLAG_DELAYS_HOURS: dict[str, int] = {"pep": 48, "emergency_contraception": 120}
FLAG_RESOLUTIONS: dict[str, object] = {
    "done": _l("Done in time"),
    "not_needed": _l("Not needed"),
    "declined": _l("Declined by the person"),
    "missed": _l("Deadline missed"),
}
REFERRAL_STATUSES: dict[str, object] = {
    "proposed": _l("Proposed"),
    "accepted": _l("Accepted"),
    "appointment": _l("Appointment made"),
    "done": _l("Done"),
    "declined": _l("Declined"),
}
ACTION_KINDS: dict[str, object] = {
    "call_back": _l("Call back"),
    "accompany": _l("Accompany to an appointment"),
    "appointment": _l("Appointment to check"),
    "document": _l("Document to prepare"),
    "check_in": _l("Check in"),
    "other": _l("Other"),
}
CONSENT_CHANNELS: dict[str, object] = {
    "in_person": _l("In person"),
    "phone": _l("By phone"),
    "message": _l("By message"),
    "written": _l("In writing"),
}
ERASURE_REASONS: dict[str, object] = {
    "person_request": _l("the person's request"),
    "entered_by_mistake": _l("entered by mistake"),
    "duplicate": _l("duplicate case"),
    "safety": _l("the person's safety"),
}
TRANSFER_ITEMS: dict[str, object] = {
    "contact": _l("Contact details and preferred language"),
    "incident": _l("Incident date, time, department and violence types"),
    "needs": _l("Needs assessment"),
    "flags": _l("Urgent flags and their deadlines"),
}

CASE_EVENT_KINDS: dict[str, object] = {
    "opened": _l("Case opened"),
    "received": _l("Case received by transfer"),
    "updated": _l("Contact or facts updated"),
    "assigned": _l("Assigned"),
    "first_contact": _l("First contact made"),
    "needs_updated": _l("Needs assessment updated"),
    "flag_raised": _l("Urgent flag raised"),
    "flag_resolved": _l("Urgent flag resolved"),
    "status_changed": _l("Status changed"),
    "closed": _l("Case closed"),
    "reopened": _l("Case reopened"),
    "note_added": _l("Note added"),
    "note_edited": _l("Note edited"),
    "note_corrected": _l("Correction added"),
    "referral_proposed": _l("Referral proposed"),
    "referral_accepted": _l("Referral accepted"),
    "referral_appointment": _l("Referral appointment"),
    "referral_done": _l("Referral done"),
    "referral_declined": _l("Referral declined"),
    "consent_recorded": _l("Consent to sharing recorded"),
    "consent_withdrawn": _l("Consent to sharing withdrawn"),
    "transferred": _l("Transferred"),
    "action_added": _l("Action added"),
    "action_done": _l("Action done"),
    "evidence_added": _l("Evidence added"),
    "legal_consent_recorded": _l("Consent to a police or lawyer dossier recorded"),
    "legal_consent_withdrawn": _l("Consent to a police or lawyer dossier withdrawn"),
    "dossier_built": _l("Dossier built for the police or a lawyer"),
    "complaint_recorded": _l("Complaint recorded"),
    "complaint_dates": _l("Complaint dates changed"),
    "erased": _l("Person erased"),
}

# The case's sealed columns: what erasure clears besides destroying the key.
CASE_SEALED_COLUMNS = [
    "victim_name_sealed",
    "victim_phone_sealed",
    "victim_email_sealed",
    "victim_preferred_language_sealed",
    "contact_instructions_sealed",
]


def _user_fk(nullable: bool = True, index: bool = False):
    return mapped_column(Integer, ForeignKey("ab_user.id"), nullable=nullable, index=index)


class Case(ConfidentialRecord, OrganisationOwned, TimestampMixin, Model):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_organisation_opened", "organisation_id", "opened_at"),
        Index("ix_cases_organisation_status", "organisation_id", "status"),
        # The home page's new cases of an association, newest first (services/home.py).
        Index("ix_cases_organisation_status_opened", "organisation_id", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open")
    source: Mapped[str] = mapped_column(String(10), nullable=False)
    # The report a moderator routed; unique, so a report is routed once.
    report_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("reports.id"), nullable=True, unique=True
    )
    assignee_id: Mapped[int | None] = _user_fk(index=True)
    created_by_id: Mapped[int | None] = _user_fk()
    opened_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, index=True
    )
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # When a social worker first reached the person, as she declared it (set once): what the
    # statistics' "time to first contact" counts from ``opened_at``. A transferred case has
    # its own, the receiving association's.
    first_contact_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime, nullable=True, index=True
    )

    # What happened, in the terms statistics and deadlines need (no narrative here).
    incident_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    incident_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    department: Mapped[str | None] = mapped_column(String(3), nullable=True)
    violence_types: Mapped[list] = mapped_column(JSON, nullable=False, default=list)

    # The victim (confidential, sealed with the case's key).
    victim_name_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_phone_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_email_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_preferred_language_sealed: Mapped[str | None] = mapped_column(
        EncryptedText, nullable=True
    )
    contact_instructions_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    victim_name = Sealed()
    victim_phone = Sealed()
    victim_email = Sealed()
    victim_preferred_language = Sealed()
    contact_instructions = Sealed()

    # Consent to follow-up is what makes a case exist; sharing is recorded per organisation.
    consent_follow_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # At intake she may have agreed to sharing "with a partner" without naming one.
    intake_consent_share: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    erased_by_id: Mapped[int | None] = _user_fk()
    erasure_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)

    # Two social workers editing the same case: the second save fails instead of overwriting.
    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version_id}

    assignee = relationship("StaffUser", foreign_keys=[assignee_id])
    report = relationship("Report", foreign_keys=[report_id])
    needs: Mapped[list[CaseNeed]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseNeed.need"
    )
    flags: Mapped[list[CaseFlag]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseFlag.id"
    )
    # Read-only views for the case page, which loads them with the case in one query. Each
    # repeats the organisation in its join, like every scoped query of a case's rows.
    open_flags: Mapped[list[CaseFlag]] = relationship(
        primaryjoin="and_(CaseFlag.case_id == Case.id, "
        "CaseFlag.organisation_id == Case.organisation_id, CaseFlag.resolved_at.is_(None))",
        order_by="CaseFlag.id",
        viewonly=True,
    )
    consents: Mapped[list[CaseConsent]] = relationship(
        primaryjoin="and_(CaseConsent.case_id == Case.id, "
        "CaseConsent.organisation_id == Case.organisation_id)",
        order_by="CaseConsent.given_at, CaseConsent.id",
        viewonly=True,
    )
    # The evidence still held (not shredded), scoped like the consents: the case page loads
    # it with the case, in the same query, without the sealed images (see cases.queries).
    evidence: Mapped[list[CaseEvidence]] = relationship(
        primaryjoin="and_(CaseEvidence.case_id == Case.id, "
        "CaseEvidence.organisation_id == Case.organisation_id, "
        "CaseEvidence.image_sealed.is_not(None))",
        order_by="CaseEvidence.id",
        viewonly=True,
    )
    # The transfer this case was received by (a case is received once, ``to_case_id`` is
    # unique), seen from the receiving side.
    received_transfer: Mapped[CaseTransfer | None] = relationship(
        primaryjoin="and_(CaseTransfer.to_case_id == Case.id, "
        "CaseTransfer.to_organisation_id == Case.organisation_id)",
        uselist=False,
        viewonly=True,
    )

    def __repr__(self) -> str:
        return self.reference

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def need_codes(self) -> list[str]:
        return [n.need for n in self.needs]


class CaseNeed(Model):
    """One need of the assessment and where it stands."""

    __tablename__ = "case_needs"
    __table_args__ = (UniqueConstraint("case_id", "need"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
    )
    need: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="identified")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    case: Mapped[Case] = relationship(back_populates="needs")


class CaseFlag(OrganisationOwned, Model):
    """An urgent flag, with the deadline medicine or safety sets (naive UTC)."""

    __tablename__ = "case_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = _user_fk()
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)
    resolved_by_id: Mapped[int | None] = _user_fk()

    case: Mapped[Case] = relationship(back_populates="flags")


class CaseNote(ConfidentialRecord, OrganisationOwned, Model):
    """A confidential note, sealed with its case's data key and bound to its own row."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case_created", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
    )
    author_id: Mapped[int | None] = _user_fk()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # A correction appended to an earlier note once that note can no longer be edited.
    corrects_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("case_notes.id"), nullable=True, index=True
    )
    # Copied from another association's case by a transfer (author not shown).
    transferred: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    body_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    body = Sealed()

    case = relationship("Case", foreign_keys=[case_id])

    def __repr__(self) -> str:
        return f"CaseNote({self.id})"


class Referral(ConfidentialRecord, OrganisationOwned, TimestampMixin, Model):
    """Sending the person to a structure of the directory for one need."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    structure_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("structures.id"), nullable=False, index=True
    )
    need: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="proposed")
    appointment_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = _user_fk()
    notes_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    notes = Sealed()

    structure = relationship("Structure", foreign_keys=[structure_id])

    def __repr__(self) -> str:
        return f"Referral({self.id})"


class CaseConsent(OrganisationOwned, Model):
    """The person's consent to sharing her case with one named partner association."""

    __tablename__ = "case_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    partner_organisation_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("organisations.id"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(12), nullable=False)
    given_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    recorded_by_id: Mapped[int | None] = _user_fk()
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    partner_organisation = relationship("Organisation", foreign_keys=[partner_organisation_id])
    # The transfers made under this consent, seen from the sending case.
    transfers: Mapped[list[CaseTransfer]] = relationship(
        primaryjoin="and_(CaseTransfer.consent_id == CaseConsent.id, "
        "CaseTransfer.from_case_id == CaseConsent.case_id, "
        "CaseTransfer.from_organisation_id == CaseConsent.organisation_id)",
        order_by="CaseTransfer.created_at, CaseTransfer.id",
        viewonly=True,
    )

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class CaseTransfer(Model):
    """A transfer: the receiving association gets a new case with only the chosen items.

    Not organisation-owned: it belongs to both sides, and each side only ever reads it
    through its own case (``from_case_id`` for the sender, ``to_case_id`` for the receiver).
    """

    __tablename__ = "case_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id"), nullable=False, index=True
    )
    to_case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id"), nullable=False, unique=True
    )
    from_organisation_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("organisations.id"), nullable=False
    )
    to_organisation_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("organisations.id"), nullable=False
    )
    consent_id: Mapped[int] = mapped_column(Integer, ForeignKey("case_consents.id"), nullable=False)
    # Item codes (TRANSFER_ITEMS) and the number of notes copied.
    items: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    notes_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_by_id: Mapped[int | None] = _user_fk()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    from_organisation = relationship("Organisation", foreign_keys=[from_organisation_id])
    to_organisation = relationship("Organisation", foreign_keys=[to_organisation_id])


class FollowUpAction(ConfidentialRecord, OrganisationOwned, TimestampMixin, Model):
    """Something to do by a date, by someone; its free-text details are confidential."""

    __tablename__ = "case_actions"
    __table_args__ = (
        Index("ix_case_actions_open_due", "assignee_id", "done_at", "due_on"),
        # The home page's overdue actions of an association (services/home.py).
        Index("ix_case_actions_organisation_open_due", "organisation_id", "done_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    due_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    assignee_id: Mapped[int | None] = _user_fk()
    created_by_id: Mapped[int | None] = _user_fk()
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    done_by_id: Mapped[int | None] = _user_fk()
    details_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    details = Sealed()

    case = relationship("Case", foreign_keys=[case_id])
    assignee = relationship("StaffUser", foreign_keys=[assignee_id])


EVIDENCE_KINDS: dict[str, object] = {
    "aggressor": _l("Photo of the aggressor"),
    "vehicle": _l("His vehicle"),
    "messages": _l("Screenshot of his messages"),
    "injury": _l("Injuries"),
    "other": _l("Other"),
}


class CaseEvidence(ConfidentialRecord, OrganisationOwned, Model):
    """A photo or screenshot attached to a case: re-encoded without its metadata, then sealed
    with THE CASE's data key (never a plain file), like its thumbnail; erasing the case
    shreds both. Only the kind, type, size and dimensions are clear."""

    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    content_type: Mapped[str] = mapped_column(String(20), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    added_by_id: Mapped[int | None] = _user_fk()
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # Base64 of the cleaned image and of its thumbnail (JPEG), sealed.
    image_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    thumbnail_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    image = Sealed()
    thumbnail = Sealed()

    case = relationship("Case", foreign_keys=[case_id])


LEGAL_RECIPIENTS: dict[str, object] = {
    "police": _l("Police or gendarmerie"),
    "lawyer": _l("Lawyer"),
    # Her account on the emergency liaison sheet for a doctor (services/cases/liaison.py).
    "doctor": _l("Doctor (emergency liaison sheet)"),
}


class LegalConsent(OrganisationOwned, Model):
    """Her consent to pass the aggressor's details (never hers) to the police or a lawyer,
    and what may go with them: her testimony, the evidence. Withdrawn, it blocks new
    dossiers (those already given stay listed). Of the kind "doctor", it lets her testimony
    go on the emergency liaison sheet (services/cases/liaison.py) and nothing else."""

    __tablename__ = "case_legal_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    recipient_kind: Mapped[str] = mapped_column(String(10), nullable=False)
    include_testimony: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    include_evidence: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    channel: Mapped[str] = mapped_column(String(12), nullable=False)
    given_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    recorded_by_id: Mapped[int | None] = _user_fk()
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    withdrawn_by_id: Mapped[int | None] = _user_fk()

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class Dossier(OrganisationOwned, Model):
    """A dossier built for a police station or a lawyer: who, when, on which consent, and
    what was shared (item codes). The PDF itself is not kept."""

    __tablename__ = "case_dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    structure_id: Mapped[int] = mapped_column(Integer, ForeignKey("structures.id"), nullable=False)
    consent_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("case_legal_consents.id"), nullable=False
    )
    shared: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    other_reports: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    built_by_id: Mapped[int | None] = _user_fk()

    structure = relationship("Structure", foreign_keys=[structure_id])


class Complaint(ConfidentialRecord, OrganisationOwned, TimestampMixin, Model):
    """Her complaint and its follow-up: where and when it was filed, her lawyer, the hearing
    and the next deadline (each date a reminder among the case's actions). Structures and
    dates are clear, like a referral's; free details (a complaint number) are sealed with THE
    CASE's key."""

    __tablename__ = "case_complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    filed_with_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("structures.id"), nullable=True
    )
    lawyer_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("structures.id"), nullable=True
    )
    hearing_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    deadline_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    recorded_by_id: Mapped[int | None] = _user_fk()
    details_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    details = Sealed()

    filed_with = relationship("Structure", foreign_keys=[filed_with_id])
    lawyer = relationship("Structure", foreign_keys=[lawyer_id])


class CaseEvent(OrganisationOwned, Model):
    """The case's own history: what was done, by whom, when. Codes only, no personal data."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    actor_id: Mapped[int | None] = _user_fk()
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)


@event.listens_for(CaseNote.body_sealed, "set", active_history=True)
def _notes_are_append_only(note, value, old_value, _initiator):
    """Past its edit window a note's text cannot change; only erasure may clear it.

    The service checks the window with the configured length and the author; this guard
    catches code that forgets to ask it. ``_edit_allowed`` is set by the service for the one
    assignment it authorises.
    """
    if old_value is None or value is None or old_value is value:
        return
    if isinstance(old_value, str) and not getattr(note, "_edit_allowed", False):
        raise PermissionError("Case notes are append-only: add a correction instead.")
