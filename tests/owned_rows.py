"""One row of every organisation-owned model, for the route walker (no test here).

``OWNED_FACTORIES`` maps each model that carries ``__organisation_owned__`` to a function
making a row of it for an organisation, through the services where they exist. Each returns
the row and the strings that would show if the row leaked to someone else (names, texts,
references), all unique to this run. A new organisation-owned model fails
``test_every_owned_model_has_a_factory`` until it gets a factory here, so the walker always
tries every path with every kind of owned row.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    Case,
    CaseConsent,
    CaseEvent,
    CaseEvidence,
    CaseFlag,
    CaseNote,
    Complaint,
    Dossier,
    FollowUpAction,
    LegalConsent,
    Referral,
)
from backoffice.models.organisation import Organisation
from backoffice.models.outreach import (
    ContactOutcome,
    MessageTemplate,
    OutreachContact,
    OutreachSession,
)
from backoffice.models.structure import Structure
from backoffice.models.subscriber import Subscriber
from backoffice.models.user import StaffUser
from backoffice.services import cases, identifiers, outreach, subscribers


def unique(prefix: str) -> str:
    """``prefix`` and ten random letters (no digits: pseudonyms refuse number-like text)."""
    return prefix + "".join(secrets.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))


def unique_mobile() -> str:
    """A valid French mobile number, random (intake refuses unassigned ranges)."""
    while True:
        number = "06" + "".join(f"{secrets.randbelow(100):02d}" for _ in range(4))
        if identifiers.try_normalise("phone", number):
            return number


def tiny_png() -> bytes:
    """A small valid PNG (an evidence upload)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@dataclass
class OwnedRows:
    """The rows made for one organisation: model -> row id, and every leak marker."""

    organisation_id: int
    ids: dict[type, int] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    # References name a row without saying anything about the person: programme-wide
    # readers of the audit trail see them; nobody else of another organisation may.
    references: list[str] = field(default_factory=list)

    def add(self, row, *markers: str) -> None:
        self.ids[type(row)] = row.id
        self.markers.extend(m for m in markers if m)


class _Maker:
    """Makes the rows in dependency order (a note needs a case…), each once."""

    def __init__(self, organisation: Organisation, actor: StaffUser) -> None:
        self.organisation, self.actor = organisation, actor
        self.rows = OwnedRows(organisation.id)
        self._case: Case | None = None
        self._session: OutreachSession | None = None
        self._contact: OutreachContact | None = None

    # -- cases ---------------------------------------------------------------------------
    def case(self) -> Case:
        if self._case is None:
            name = unique("Walkername")
            self._case = cases.open_direct(
                self.actor,
                cases.Contact(name=name, phone=unique_mobile(), preferred_language="pt"),
                cases.CaseFacts(department="75", violence_types=["theft"]),
                needs=["health"],
                assignee_id=self.actor.id,
                consent_follow_up=True,
            )
            db.session.flush()
            self.rows.add(self._case, name)
            self.rows.references.append(self._case.reference)
        return self._case

    def case_note(self) -> None:
        text = unique("Walker note ")
        self.rows.add(cases.add_note(self.case(), text, self.actor), text)

    def referral(self) -> None:
        text = unique("Walker referral ")
        row = cases.add_referral(self.case(), _structure().id, "health", self.actor, text)
        self.rows.add(row, text)

    def action(self) -> None:
        text = unique("Walker action ")
        row = cases.add_action(
            self.case(), "call_back", dt.date.today(), None, self.actor, details=text
        )
        self.rows.add(row)
        self.rows.markers.append(text)

    def evidence(self) -> None:
        self.rows.add(cases.add_evidence(self.case(), tiny_png(), "vehicle", self.actor))

    def legal_consent(self) -> LegalConsent:
        row = cases.record_legal_consent(self.case(), "lawyer", True, True, "written", self.actor)
        self.rows.add(row)
        return row

    def dossier(self) -> None:
        consent = self.legal_consent()
        row = Dossier(
            reference=unique("D-"),
            case_id=self.case().id,
            organisation_id=self.organisation.id,
            structure_id=_structure().id,
            consent_id=consent.id,
            shared=["aggressor"],
            built_by_id=self.actor.id,
        )
        db.session.add(row)
        db.session.flush()
        self.rows.add(row)

    def complaint(self) -> None:
        text = unique("Walker complaint ")
        data = cases.ComplaintInput(filed_on=dt.date.today(), details=text)
        self.rows.add(cases.record_complaint(self.case(), data, self.actor), text)

    def consent(self) -> None:
        other = db.session.scalar(
            select(Organisation).where(Organisation.id != self.organisation.id)
        )
        self.rows.add(cases.record_consent(self.case(), other.id, "in_person", self.actor))

    def flag(self) -> None:
        self.rows.add(cases.add_flag(self.case(), "safety", self.actor))

    def case_event(self) -> None:
        case = self.case()
        db.session.flush()
        event = db.session.scalar(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
        self.rows.add(event)

    # -- outreach ------------------------------------------------------------------------
    def outreach_session(self) -> OutreachSession:
        if self._session is None:
            city = unique("Walkercity")
            self._session = OutreachSession(
                organisation_id=self.organisation.id,
                session_date=utcnow().date(),
                department="75",
                city=city,
                created_by_id=self.actor.id,
            )
            db.session.add(self._session)
            db.session.flush()
            self.rows.add(self._session, city)
        return self._session

    def outreach_contact(self) -> OutreachContact:
        if self._contact is None:
            session = self.outreach_session()
            number = unique_mobile()
            outreach.add_contacts(session, number, user=self.actor)
            db.session.flush()
            self._contact = db.session.scalar(
                select(OutreachContact).where(OutreachContact.session_id == session.id)
            )
            self.rows.add(self._contact, number, "+33" + number[1:])
        return self._contact

    def contact_outcome(self) -> None:
        contact = self.outreach_contact()
        outcomes = outreach.log_outcomes(
            self.outreach_session(), [contact.id], outreach.OutcomeInput(kind="call")
        )
        db.session.flush()
        self.rows.add(outcomes[0])

    def message_template(self) -> None:
        template = db.session.scalar(
            select(MessageTemplate).where(MessageTemplate.organisation_id == self.organisation.id)
        )
        text = unique("Walker template ") + " {register_url}"
        template.text = text
        db.session.flush()
        self.rows.add(template, text.split(" {")[0])

    # -- subscribers ---------------------------------------------------------------------
    def subscriber(self) -> None:
        pseudonym = unique("Walkerpseudo")
        row = subscribers.register(
            {
                "pseudonym": pseudonym,
                "phone": unique_mobile(),
                "language": "fr",
                "departments": ["75"],
            },
            self.organisation.id,
            self.actor,
        )
        self.rows.add(row, pseudonym)


def _structure() -> Structure:
    found = db.session.scalar(select(Structure).where(Structure.code == "walker-structure"))
    if found is None:
        found = Structure(
            code="walker-structure",
            name="Structure du parcours",
            category="cegidd",
            city="Paris",
            department="75",
            active=True,
        )
        found.services = ["testing", "pep"]
        db.session.add(found)
        db.session.flush()
    return found


OWNED_FACTORIES: dict[type, Callable[[_Maker], object]] = {
    Case: _Maker.case,
    CaseNote: _Maker.case_note,
    Referral: _Maker.referral,
    FollowUpAction: _Maker.action,
    CaseConsent: _Maker.consent,
    CaseFlag: _Maker.flag,
    CaseEvent: _Maker.case_event,
    CaseEvidence: _Maker.evidence,
    LegalConsent: _Maker.legal_consent,
    Dossier: _Maker.dossier,
    Complaint: _Maker.complaint,
    OutreachSession: _Maker.outreach_session,
    OutreachContact: _Maker.outreach_contact,
    ContactOutcome: _Maker.contact_outcome,
    MessageTemplate: _Maker.message_template,
    Subscriber: _Maker.subscriber,
}


def make_owned_rows(organisation: Organisation, actor: StaffUser) -> OwnedRows:
    """One row of every organisation-owned model for ``organisation`` (flushed, not committed)."""
    maker = _Maker(organisation, actor)
    for factory in OWNED_FACTORIES.values():
        factory(maker)
    return maker.rows
