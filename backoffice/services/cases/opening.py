"""How a case comes to exist: opened in the field by a social worker, or routed from a report
by a moderator.

A case opened from a routed report copies what follow-up needs — incident date and time (for
treatment deadlines), department, violence types — and re-seals the victim's contact under
the case's own key. The report's narrative is restricted (moderators only) and is not shown:
the social worker hears the story from the person herself, in her own words.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import Select, exists, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import NEEDS, Case, CaseNeed
from backoffice.models.organisation import Organisation
from backoffice.models.report import Report
from backoffice.models.user import StaffUser
from backoffice.security import OutOfScope, holders, organisation_of
from backoffice.services import audit, confidential, references, staff_notices
from backoffice.services.cases.contact import CaseFacts, Contact, apply_facts, seal_contact
from backoffice.services.cases.deadlines import raise_deadline_flags
from backoffice.services.cases.rules import (
    HOLD_CASES,
    CaseRuleError,
    check_assignee,
    check_codes,
    record_event,
)

REFERENCE_PREFIX = "C"


def new_case(organisation_id: int, source: str, actor, assignee_id: int | None = None) -> Case:
    """An empty case of ``organisation_id`` with its own data key and reference."""
    case = Case(
        organisation_id=organisation_id,
        # ``C-2026-000123``, from the same counters as reports and alerts.
        reference=references.next_reference(REFERENCE_PREFIX),
        status="open",
        source=source,
        assignee_id=assignee_id,
        created_by_id=getattr(actor, "id", None) if source != "transfer" else None,
        opened_at=utcnow(),
        violence_types=[],
    )
    db.session.add(case)
    # The case's own key exists from the start: notes, referrals and actions share it.
    confidential.data_key_of(case)
    db.session.flush()
    return case


def open_direct(
    actor,
    contact: Contact,
    facts: CaseFacts,
    needs: Iterable[str] = (),
    assignee_id: int | None = None,
    consent_follow_up: bool = False,
) -> Case:
    """A social worker opens a case, in her organisation, for a person met in the field."""
    if not consent_follow_up:
        raise CaseRuleError(
            _("A case needs the person's consent to follow-up. Ask her first."),
            "consent_follow_up",
        )
    organisation_id = organisation_of(actor)
    if organisation_id is None:  # no organisation, no case: the scoping rule's answer
        raise OutOfScope("Case")
    contact, facts = contact.cleaned(), facts.cleaned()
    needs = check_codes(needs, NEEDS, "needs")
    assignee_id = check_assignee(actor, assignee_id)
    case = new_case(organisation_id, "direct", actor, assignee_id)
    seal_contact(case, contact)
    apply_facts(case, facts)
    case.needs = [CaseNeed(need=code, status="identified") for code in needs]
    raise_deadline_flags(case, actor)
    record_event(case, "opened", actor, source="direct")
    audit.record("case_opened", case, actor=actor, details={"source": "direct"})
    return case


def routable_reports(limit: int = 200) -> list:
    """Reports whose victim asked for follow-up and that no case follows yet, newest first."""
    routed = exists(select(Case.id).where(Case.report_id == Report.id))
    return db.session.scalars(
        select(Report)
        .where(Report.consent_follow_up.is_(True), ~routed, Report.status != "rejected")
        .order_by(Report.received_at.desc())
        .limit(limit)
    ).all()


def _routing_organisations() -> Select:
    staffed = holders(HOLD_CASES).with_only_columns(StaffUser.organisation_id).order_by(None)
    return (
        select(Organisation)
        .where(Organisation.active.is_(True), Organisation.id.in_(staffed))
        .order_by(Organisation.name)
    )


def routing_organisations() -> list[Organisation]:
    """Where a report can be routed: active associations with someone who may hold cases."""
    return db.session.scalars(_routing_organisations()).all()


def route_report(report_id: int, organisation_id: int, actor) -> Case:
    """A moderator hands a report's follow-up to an organisation: a case opens there."""
    report = db.session.get(Report, report_id)
    if report is None or not report.consent_follow_up or report.status == "rejected":
        raise OutOfScope("Report")
    if db.session.scalar(select(Case.id).where(Case.report_id == report.id)) is not None:
        raise CaseRuleError(_("This report was already routed."))
    organisation = db.session.scalar(
        _routing_organisations().where(Organisation.id == organisation_id)
    )
    if organisation is None:
        raise CaseRuleError(
            _("Choose an active partner association with social workers."), "organisation_id"
        )
    case = new_case(organisation.id, "routed", actor)
    case.report_id = report.id
    case.intake_consent_share = bool(report.consent_share_with_partner)
    # Decrypted under the report's key and sealed at once under the case's own.
    contact = Contact(
        name=report.victim_pseudonym,
        phone=report.victim_phone,
        email=report.victim_email,
        preferred_language=report.victim_preferred_language or report.language,
    )
    seal_contact(case, contact)
    apply_facts(
        case,
        CaseFacts(
            report.incident_date,
            report.incident_time,
            report.department,
            list(report.violence_types or []),
        ),
    )
    raise_deadline_flags(case, actor)
    record_event(case, "opened", actor, source="routed", report=report.reference)
    audit.record(
        "report_routed",
        report,
        actor=actor,
        organisation_id=organisation.id,
        details={"case": case.reference, "organisation": organisation.id},
    )
    audit.record("case_opened", case, actor=actor, details={"source": "routed"})
    # A running treatment deadline: the association's social workers are told at once.
    staff_notices.case_routed(case)
    return case


def source_report_summary(case: Case) -> dict | None:
    """What the organisation sees of the report a case came from (no narrative)."""
    report = case.report
    if report is None:
        return None
    return {
        "reference": report.reference,
        "received_at": report.received_at,
        "channel": report.channel,
        "severity": report.severity,
        "reporter_relation": report.reporter_relation,
        "consent_publish_alert": report.consent_publish_alert,
        "consent_statistics": report.consent_statistics,
    }
