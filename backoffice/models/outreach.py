"""Virtual outreach rounds (maraudes virtuelles): sessions, contacts, outcomes, templates.

How contact numbers are kept (lookup data, DESIGN.md):

* A contact row holds the keyed blind index of its normalised value
  (``keyring().blind_index("outreach-phone" | "outreach-handle", value)``): that is all the
  duplicate check ever compares, so "was this number already contacted by my organisation?"
  keeps working for as long as the row exists (the retention period).
* What the team needs to see during the round (the number or handle to type into the team
  phone) is sealed with the data key of the **session** (``OutreachSession`` is a
  ``ConfidentialRecord``), bound by AES-GCM associated data to the contact's own row and
  organisation. Closing the session, by hand or by the nightly job, destroys that key:
  every clear number of the round is gone for good (crypto-shredding), backups included,
  while the blind indexes keep the deduplication working.
* Outcome rows (message sent, reply, call, registration, referral) carry no personal data.
  When the retention job deletes a contact, its outcomes lose the link to it but stay with
  their session, so monthly figures do not change when contacts are purged.

Nothing else stores a clear number: no log line, no URL (pages carry ids only), no audit
detail (counts and codes only).
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from backoffice.models.base import (
    ConfidentialRecord,
    EncryptedText,
    OrganisationOwned,
    TimestampMixin,
    new_row_uid,
    utcnow,
)

PLATFORM_KINDS: dict[str, object] = {
    "escort_site": _l("Escort site"),
    "classifieds": _l("Classifieds"),
    "social_network": _l("Social network"),
    "dating_app": _l("Dating app"),
    "other": _l("Other"),
}

SESSION_OPEN = "open"
SESSION_CLOSED = "closed"
SESSION_STATUSES: dict[str, object] = {
    SESSION_OPEN: _l("Open"),
    SESSION_CLOSED: _l("Closed"),
}

CONTACT_PHONE = "phone"
CONTACT_HANDLE = "handle"
CONTACT_KINDS: dict[str, object] = {
    CONTACT_PHONE: _l("Phone"),
    CONTACT_HANDLE: _l("Handle or profile"),
}

MESSAGE_PURPOSES: dict[str, object] = {
    "first_contact": _l("First contact"),
    "who_we_are": _l("Who we are"),
    "how_to_register": _l("How to register"),
    "health_information": _l("Health information"),
    "violence_prevention_tools": _l("Violence prevention tools"),
    "after_an_assault": _l("What to do after an assault"),
}

OUTCOME_MESSAGE = "message_sent"
OUTCOME_REFERRAL = "referral"
OUTCOME_KINDS: dict[str, object] = {
    OUTCOME_MESSAGE: _l("Message sent"),
    "reply": _l("Reply"),
    "call": _l("Call"),
    "registration": _l("Registration"),
    OUTCOME_REFERRAL: _l("Referral to an association"),
}

session_members = Table(
    "outreach_session_members",
    Model.metadata,
    Column(
        "session_id",
        Integer,
        ForeignKey("outreach_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
)

session_platforms = Table(
    "outreach_session_platforms",
    Model.metadata,
    Column(
        "session_id",
        Integer,
        ForeignKey("outreach_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "platform_id",
        Integer,
        ForeignKey("outreach_platforms.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class Platform(TimestampMixin, Model):
    """A site or network where workers advertise (managed list shared by every team)."""

    __tablename__ = "outreach_platforms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="escort_site")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return self.name

    @property
    def kind_label(self) -> str:
        return str(PLATFORM_KINDS.get(self.kind, self.kind))


class OutreachSession(OrganisationOwned, ConfidentialRecord, TimestampMixin, Model):
    """One virtual round. Its data key seals the contacts' display values (see above)."""

    __tablename__ = "outreach_sessions"
    __table_args__ = (Index("ix_outreach_sessions_org_date", "organisation_id", "session_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    start_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    city: Mapped[str | None] = mapped_column(String(120), nullable=True)
    department: Mapped[str] = mapped_column(String(3), nullable=False)
    # Team notes (restricted class): the form refuses phone numbers in them.
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=SESSION_OPEN)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )

    team = relationship("StaffUser", secondary=session_members, order_by="StaffUser.first_name")
    platforms = relationship("Platform", secondary=session_platforms, order_by="Platform.name")
    created_by = relationship("StaffUser", foreign_keys=[created_by_id])

    def __repr__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return self.reference_of(self.id, self.session_date)

    @staticmethod
    def reference_of(session_id: int | None, session_date: dt.date | None) -> str:
        """ "M-2026-00012": also for a round read as plain columns (home page)."""
        year = session_date.year if session_date else 0
        return f"M-{year}-{session_id or 0:05d}"

    @property
    def is_open(self) -> bool:
        return self.status == SESSION_OPEN

    @property
    def status_label(self) -> str:
        return str(SESSION_STATUSES.get(self.status, self.status))

    @property
    def team_label(self) -> str:
        return ", ".join(short_name(user) for user in self.team) or "—"

    @property
    def platforms_label(self) -> str:
        return ", ".join(p.name for p in self.platforms) or "—"

    @property
    def contacts_count(self) -> int:
        session = object_session(self)
        if session is None or self.id is None:
            return 0
        statement = select(func.count(OutreachContact.id)).where(
            OutreachContact.session_id == self.id
        )
        return session.scalar(statement) or 0


class OutreachContact(OrganisationOwned, Model):
    """A number or handle contacted by the organisation: a blind index plus a sealed display.

    One row per organisation and identifier: the session is where it was first contacted.
    """

    __tablename__ = "outreach_contacts"
    __table_args__ = (
        # The batch check: organisation_id = :org AND blind_index IN (...), one index probe
        # per pasted line; unique, so two volunteers cannot add the same number twice.
        Index(
            "ix_outreach_contacts_org_blind_index",
            "organisation_id",
            "blind_index",
            "kind",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("outreach_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    blind_index: Mapped[str] = mapped_column(String(32), nullable=False)
    row_uid: Mapped[str] = mapped_column(
        String(32), nullable=False, unique=True, default=new_row_uid
    )
    # Sealed with the session's data key; NULL once the session is closed.
    display_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    platform_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("outreach_platforms.id", ondelete="SET NULL"), nullable=True
    )
    language: Mapped[str | None] = mapped_column(String(5), nullable=True)
    contacted_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, index=True
    )
    added_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )

    session = relationship("OutreachSession", foreign_keys=[session_id])
    platform = relationship("Platform", foreign_keys=[platform_id])
    added_by = relationship("StaffUser", foreign_keys=[added_by_id])
    outcomes = relationship(
        "ContactOutcome",
        back_populates="contact",
        order_by="ContactOutcome.occurred_at",
        passive_deletes=True,
    )


class ContactOutcome(OrganisationOwned, TimestampMixin, Model):
    """What happened with a contact: no personal data, kept for the figures after a purge."""

    __tablename__ = "outreach_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("outreach_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("outreach_contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    language: Mapped[str | None] = mapped_column(String(5), nullable=True)
    referral_organisation_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )

    contact = relationship("OutreachContact", back_populates="outcomes")
    session = relationship("OutreachSession", foreign_keys=[session_id])
    referral_organisation = relationship("Organisation", foreign_keys=[referral_organisation_id])
    recorded_by = relationship("StaffUser", foreign_keys=[recorded_by_id])

    @property
    def kind_label(self) -> str:
        return str(OUTCOME_KINDS.get(self.kind, self.kind))

    @property
    def purpose_label(self) -> str:
        return str(MESSAGE_PURPOSES.get(self.purpose, self.purpose or ""))


class MessageTemplate(OrganisationOwned, Model):
    """A message text per purpose and language, owned by each organisation's team.

    Seeded with the programme's texts (``services.worker_texts``, the ``alerts`` catalogues)
    when the organisation is created; edited afterwards by its Outreach leads only.
    """

    __tablename__ = "outreach_templates"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id", "purpose", "language", name="uq_outreach_templates_purpose_lang"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), nullable=False)
    language: Mapped[str] = mapped_column(String(5), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )

    updated_by = relationship("StaffUser", foreign_keys=[updated_by_id])

    @property
    def purpose_label(self) -> str:
        return str(MESSAGE_PURPOSES.get(self.purpose, self.purpose))


class OutreachLead(Model):
    """The "Outreach lead" marker: an Outreach user who may edit texts and platforms.

    Kept apart from the roles on purpose: a lead is a volunteer with one more
    responsibility, not a different role, and Admins (who grant the marker) cannot edit
    texts themselves.
    """

    __tablename__ = "outreach_leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    user = relationship("StaffUser", foreign_keys=[user_id])

    def __repr__(self) -> str:
        return str(self.user) if self.user else f"OutreachLead({self.user_id})"


def short_name(user) -> str:
    """ "Olga D." — enough for a teammate, less than a full name on every page."""
    first = (getattr(user, "first_name", "") or "").strip()
    last = (getattr(user, "last_name", "") or "").strip()
    return f"{first} {last[:1]}." if last else first or str(getattr(user, "username", ""))
