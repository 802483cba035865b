"""What a social worker does on the case itself: corrections, assignment, the needs
assessment, urgent flags, status, closure, and the first contact.

First contact: a social worker records, once, when she first reached the person (the
statistics' "time to first contact" runs from the opening to it). Declared, never guessed
from notes; not in the future, not before the opening, not after the closure.

Times typed in a form are wall-clock times: aware ones (in the reader's zone, as the pages
send them) are taken as they are; naive ones are read in the case's department's zone.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _

from backoffice.models.base import utcnow
from backoffice.models.case import (
    CASE_OUTCOMES,
    CASE_STATUSES,
    FLAG_RESOLUTIONS,
    NEED_STATUSES,
    NEEDS,
    URGENT_FLAGS,
    Case,
    CaseFlag,
    CaseNeed,
)
from backoffice.services import audit
from backoffice.services.cases.contact import CaseFacts, Contact, apply_facts, seal_contact
from backoffice.services.cases.deadlines import flag_deadline, raise_deadline_flags
from backoffice.services.cases.rules import (
    CaseRuleError,
    check_assignee,
    check_code,
    check_codes,
    record_event,
    require_live,
    require_not_closed,
    wall_clock_to_utc,
)

STATUS_TRANSITIONS = {
    "open": {"active", "waiting"},
    "active": {"waiting"},
    "waiting": {"active"},
    "closed": set(),
}


# --- assessment -----------------------------------------------------------------------------


def update_case(case: Case, actor, contact: Contact, facts: CaseFacts) -> None:
    """Correct the contact details and the facts; deadlines follow the facts."""
    require_live(case)
    contact, facts = contact.cleaned(), facts.cleaned()
    seal_contact(case, contact)
    apply_facts(case, facts)
    raise_deadline_flags(case, actor)
    record_event(case, "updated", actor)
    audit.record("case_updated", case, actor=actor)


def assign(case: Case, assignee_id: int | None, actor) -> None:
    require_live(case)
    case.assignee_id = check_assignee(case, assignee_id)
    record_event(case, "assigned", actor, assignee=case.assignee_id)
    audit.record("case_assigned", case, actor=actor, details={"assignee": case.assignee_id})


def set_needs(case: Case, statuses: dict[str, str | None], actor) -> None:
    """Make the assessment match ``statuses`` (need code -> status, None to remove)."""
    require_live(case)
    check_codes(statuses, NEEDS, "needs")
    check_codes([s for s in statuses.values() if s], NEED_STATUSES, "needs")
    current = {n.need: n for n in case.needs}
    for need, status in statuses.items():
        row = current.get(need)
        if status is None and row is not None:
            case.needs.remove(row)
        elif status is not None and row is None:
            case.needs.append(CaseNeed(need=need, status=status))
        elif row is not None and row.status != status:
            row.status = status
    record_event(case, "needs_updated", actor, needs={n: s for n, s in statuses.items() if s})
    audit.record("case_needs_updated", case, actor=actor, details={"needs": len(case.needs)})


def add_flag(case: Case, kind: str, actor, deadline_local: dt.datetime | None = None) -> CaseFlag:
    """An urgent flag; medical ones get their deadline from the incident unless given."""
    require_not_closed(case)
    check_code(kind, URGENT_FLAGS, "kind")
    if any(f.kind == kind and f.resolved_at is None for f in case.flags):
        raise CaseRuleError(_("This flag is already raised on the case."), "kind")
    deadline = (
        wall_clock_to_utc(deadline_local, case.department, "deadline")
        if deadline_local is not None
        else flag_deadline(kind, case.incident_date, case.incident_time, case.department)
    )
    flag = CaseFlag(
        organisation_id=case.organisation_id,
        kind=kind,
        deadline=deadline,
        created_by_id=actor.id,
    )
    case.flags.append(flag)
    record_event(case, "flag_raised", actor, kind=kind)
    audit.record("case_flag_raised", case, actor=actor, details={"kind": kind})
    return flag


def resolve_flag(flag: CaseFlag, resolution: str, actor) -> None:
    check_code(resolution, FLAG_RESOLUTIONS, "resolution")
    if flag.resolved_at is not None:
        raise CaseRuleError(_("This flag was already resolved."))
    flag.resolved_at, flag.resolution, flag.resolved_by_id = utcnow(), resolution, actor.id
    record_event(flag.case, "flag_resolved", actor, kind=flag.kind, resolution=resolution)
    audit.record(
        "case_flag_resolved", flag.case, actor=actor, details={"kind": flag.kind, "to": resolution}
    )


# --- status ---------------------------------------------------------------------------------


def change_status(case: Case, status: str, actor) -> None:
    require_not_closed(case)
    check_code(status, CASE_STATUSES, "status")
    if status not in STATUS_TRANSITIONS[case.status]:
        raise CaseRuleError(_("This change of status is not possible."), "status")
    before, case.status = case.status, status
    record_event(case, "status_changed", actor, before=before, after=status)
    audit.record("case_status_changed", case, actor=actor, details={"from": before, "to": status})


def close_case(case: Case, outcome: str, actor) -> None:
    require_not_closed(case)
    if outcome == "erased":
        raise CaseRuleError(_("This value is not one of the choices."), "outcome")
    check_code(outcome, CASE_OUTCOMES, "outcome")
    before = case.status
    case.status, case.outcome, case.closed_at = "closed", outcome, utcnow()
    record_event(case, "closed", actor, outcome=outcome)
    audit.record("case_closed", case, actor=actor, details={"from": before, "outcome": outcome})


def reopen_case(case: Case, actor) -> None:
    require_live(case)
    if case.status != "closed":
        raise CaseRuleError(_("Only a closed case can be reopened."))
    case.status, case.outcome, case.closed_at = "active", None, None
    record_event(case, "reopened", actor)
    audit.record("case_reopened", case, actor=actor)


# --- first contact --------------------------------------------------------------------------


def record_first_contact(
    case: Case, actor, at_local: dt.datetime | None = None, now: dt.datetime | None = None
) -> dt.datetime:
    """A social worker reached the person for the first time: she says so, once.

    An explicit step rather than a guess from notes or actions (a note may be written before
    anyone reached her). ``at_local`` is the wall-clock time she gives, to the minute (see
    the module's note on zones); None means now. It cannot be in the future, before the case
    was opened, or after it was closed. A transferred case gets its own first contact: the
    sender's is the sender's. Returns the stored moment (naive UTC).
    """
    require_live(case)
    if case.first_contact_at is not None:
        raise CaseRuleError(_("The first contact is already recorded."), "first_contact_at")
    now = now or utcnow()
    moment = (
        now
        if at_local is None
        else wall_clock_to_utc(at_local, case.department, "first_contact_at")
    )
    if moment > now:
        raise CaseRuleError(_("The first contact cannot be in the future."), "first_contact_at")
    # The form gives minutes: the minute the case was opened in is not "before" it.
    if moment < case.opened_at.replace(second=0, microsecond=0):
        raise CaseRuleError(
            _("The first contact cannot be earlier than the opening of the case."),
            "first_contact_at",
        )
    if case.closed_at is not None and moment > case.closed_at:
        raise CaseRuleError(
            _("The case was closed before that: give the date and time of the first contact."),
            "first_contact_at",
        )
    case.first_contact_at = max(moment, case.opened_at)
    hours = int((case.first_contact_at - case.opened_at).total_seconds() // 3600)
    given = "now" if at_local is None else "given"
    record_event(case, "first_contact", actor, hours=hours, time=given)
    audit.record(
        "case_first_contact_recorded", case, actor=actor, details={"hours": hours, "time": given}
    )
    return case.first_contact_at


def first_contact_delay(case: Case) -> dt.timedelta | None:
    """From opening to the first contact; None while she has not been reached."""
    if case.first_contact_at is None:
        return None
    return case.first_contact_at - case.opened_at
