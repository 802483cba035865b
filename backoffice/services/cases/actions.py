"""Follow-up actions: something to do by a date, by someone who may hold cases; and the daily
digest that reminds each of them of her overdue and coming actions."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import ACTION_KINDS, Case, FollowUpAction
from backoffice.models.user import StaffUser
from backoffice.security import holders, scoped
from backoffice.services import audit, mailer
from backoffice.services.cases.rules import (
    HOLD_CASES,
    SHORT_TEXT_MAX_LENGTH,
    CaseRuleError,
    check_assignee,
    check_code,
    clean_text,
    record_event,
    require_not_closed,
)
from backoffice.services.cases.sealed import SealedReader, reading
from backoffice.services.timezones import local_today, zone_of_user

log = logging.getLogger(__name__)


def add_action(
    case: Case,
    kind: str,
    due_on: dt.date | None,
    assignee_id: int | None,
    actor,
    details: str | None = None,
) -> FollowUpAction:
    """An action on the case, for ``assignee_id`` (the actor herself when None)."""
    require_not_closed(case)
    check_code(kind, ACTION_KINDS, "kind")
    if due_on is None:
        raise CaseRuleError(_("Give a due date."), "due_on")
    assignee_id = check_assignee(case, assignee_id or actor.id)
    action = FollowUpAction(
        case_id=case.id,
        organisation_id=case.organisation_id,
        kind=kind,
        due_on=due_on,
        assignee_id=assignee_id,
        created_by_id=actor.id,
    )
    action.data_key = case.data_key
    action.details = clean_text(details, SHORT_TEXT_MAX_LENGTH, "details")
    db.session.add(action)
    db.session.flush()
    record_event(case, "action_added", actor, action=action.id, kind=kind)
    audit.record("case_action_added", action, actor=actor, details={"case": case.reference})
    return action


def complete_action(action: FollowUpAction, actor) -> None:
    if action.done_at is not None:
        raise CaseRuleError(_("This action is already done."))
    action.done_at, action.done_by_id = utcnow(), actor.id
    record_event(action.case, "action_done", actor, action=action.id)
    audit.record("case_action_done", action, actor=actor, details={"case": action.case.reference})


def actions_of(case: Case) -> Select:
    """The select of the case's actions, open ones first, by due date."""
    statement = scoped(
        select(FollowUpAction).where(FollowUpAction.case_id == case.id), FollowUpAction, case
    )
    return statement.order_by(
        FollowUpAction.done_at.is_not(None), FollowUpAction.due_on, FollowUpAction.id
    )


def read_actions(case: Case) -> list[dict]:
    """The case's actions, open ones first (each details read is audited)."""
    actions = db.session.scalars(actions_of(case)).all()
    with reading(case) as sealed:
        return [action_view(case, action, sealed) for action in actions]


def action_view(case: Case, action: FollowUpAction, sealed: SealedReader) -> dict:
    """An action as a page shows it, its details decrypted by ``sealed`` (which audits)."""
    return {
        "id": action.id,
        "kind": action.kind,
        "due_on": action.due_on,
        "assignee_id": action.assignee_id,
        "done_at": action.done_at,
        "overdue": action.done_at is None and action.due_on < local_today(case.department),
        "details": sealed.open(action, "details"),
    }


# --- due actions: "my actions" and the digest -------------------------------------------------


@dataclass
class DueAction:
    """An action in a digest or the "my actions" page: references and dates only."""

    action_id: int
    case_id: int
    reference: str
    kind: str
    due_on: dt.date


def digest_days_ahead() -> int:
    return int(current_app.config.get("CASE_DIGEST_DAYS_AHEAD", 7))


def _open_actions(until: dt.date) -> Select:
    """Open actions due by ``until`` on cases still followed, with their case's reference."""
    return (
        select(
            FollowUpAction.id,
            FollowUpAction.case_id,
            FollowUpAction.kind,
            FollowUpAction.due_on,
            FollowUpAction.assignee_id,
            Case.reference,
        )
        .join(Case, Case.id == FollowUpAction.case_id)
        .join(StaffUser, StaffUser.id == FollowUpAction.assignee_id)
        .where(
            FollowUpAction.done_at.is_(None),
            FollowUpAction.due_on <= until,
            Case.status != "closed",
            Case.erased_at.is_(None),
            # The assignee must still belong to the case's association.
            StaffUser.organisation_id == FollowUpAction.organisation_id,
        )
        .order_by(FollowUpAction.due_on, Case.reference)
    )


def _due(row) -> DueAction:
    return DueAction(row.id, row.case_id, row.reference, row.kind, row.due_on)


def my_due_actions(actor) -> tuple[list[DueAction], list[DueAction], dt.date]:
    """The actor's overdue and coming actions in her organisation, and her today."""
    today = local_today(zone_of_user(actor))
    statement = _open_actions(today + dt.timedelta(days=digest_days_ahead()))
    statement = scoped(statement, FollowUpAction, actor).where(
        FollowUpAction.assignee_id == actor.id
    )
    return (*split_due([_due(row) for row in db.session.execute(statement)], today), today)


def split_due(actions: list[DueAction], today: dt.date) -> tuple[list, list]:
    overdue = [a for a in actions if a.due_on < today]
    return overdue, [a for a in actions if a.due_on >= today]


def _due_by_assignee(until: dt.date) -> dict[int, list[DueAction]]:
    """Every organisation's open actions by assignee: for the digest job only."""
    by_user: dict[int, list[DueAction]] = {}
    for row in db.session.execute(_open_actions(until)):
        by_user.setdefault(row.assignee_id, []).append(_due(row))
    return by_user


def send_action_digests() -> int:
    """Daily job: each person holding cases gets her overdue and upcoming actions by email.

    References, due dates and a link only: no name, no action details, not even the kind of
    action (a "PEP appointment" next to a reference would say too much in a mailbox). "Today"
    is each recipient's, in her organisation's zone. The job runner commits the audit event.
    Returns the number of emails sent.
    """
    days = digest_days_ahead()
    # The latest "today" anywhere (UTC+14 at most) bounds what any recipient may be sent.
    due = _due_by_assignee(utcnow().date() + dt.timedelta(days=days + 1))
    if not due:
        return 0
    recipients = db.session.scalars(
        holders(HOLD_CASES).where(StaffUser.id.in_(list(due)), StaffUser.email.is_not(None))
    ).all()
    sent = failed = 0
    with mailer.smtp_connection():
        for user in recipients:
            today = local_today(zone_of_user(user))
            mine = [a for a in due[user.id] if a.due_on <= today + dt.timedelta(days=days)]
            if not mine:
                continue
            subject, body = digest_message(mine, today)
            try:
                mailer.send_email(user.email, subject, body)
                sent += 1
            except mailer.MailError:
                failed += 1
                log.warning("Action digest not delivered to user %s", user.id)
    audit.record(
        "case_action_digest_sent",
        object_type="Job",
        object_id="case_action_digest",
        outcome="success" if not failed else "partial",
        details={"sent": sent, "failed": failed},
    )
    return sent


def digest_message(actions: Iterable[DueAction], today: dt.date) -> tuple[str, str]:
    """Subject and plain-text body of one digest, in the default language."""
    overdue, upcoming = split_due(list(actions), today)
    link = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/cases/actions/"
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")):
        subject = _(
            "Follow-up actions: %(overdue)d overdue, %(upcoming)d coming up",
            overdue=len(overdue),
            upcoming=len(upcoming),
        )
        lines = [_("Hello,"), ""]
        for title, group in ((_("Overdue"), overdue), (_("Coming up"), upcoming)):
            if group:
                lines.append(f"{title}:")
                lines += [
                    "  "
                    + _(
                        "%(ref)s, due %(date)s", ref=a.reference, date=a.due_on.strftime("%d/%m/%Y")
                    )
                    for a in group
                ]
                lines.append("")
        lines += [_("Open your actions: %(link)s", link=link), "", _("Jasmine back office")]
    return subject, "\n".join(lines) + "\n"
