"""What every part of the case rules shares: the refusal, input checks, the case's history,
the guards on erased and closed cases, and the staff a case can go to.

Staff are found through the ``hold_cases`` capability, never a role name, and always within
an owner's organisation (``security.scoped``): a user, or a case whose organisation is
followed.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import Case, CaseEvent
from backoffice.models.user import StaffUser
from backoffice.security import holders, scoped
from backoffice.services.timezones import to_utc

NOTE_MAX_LENGTH = 20_000
SHORT_TEXT_MAX_LENGTH = 2_000
NAME_MAX_LENGTH = 120
HOLD_CASES = "hold_cases"


class CaseRuleError(ValueError):
    """A request the rules refuse; ``message`` is shown to the user as it is."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.field = field_name


# --- input checks ---------------------------------------------------------------------------


def clean_text(
    value: str | None, max_length: int, field_name: str, required: bool = False
) -> str | None:
    """Trimmed text or None; refuses control characters and over-long values."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        if required:
            raise CaseRuleError(_("This field is required."), field_name)
        return None
    if len(text) > max_length:
        raise CaseRuleError(
            _("This text is too long (at most %(n)d characters).", n=max_length), field_name
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text):
        raise CaseRuleError(_("This text contains characters that are not allowed."), field_name)
    return text


def check_code(
    value: str | None, allowed: dict, field_name: str, required: bool = True
) -> str | None:
    if not value:
        if required:
            raise CaseRuleError(_("Choose a value from the list."), field_name)
        return None
    if value not in allowed:
        raise CaseRuleError(_("This value is not one of the choices."), field_name)
    return value


def check_codes(values: Iterable[str], allowed, field_name: str) -> list[str]:
    values = list(dict.fromkeys(v for v in values if v))
    if any(v not in allowed for v in values):
        raise CaseRuleError(_("This value is not one of the choices."), field_name)
    return values


# --- guards and history ---------------------------------------------------------------------


def require_live(case: Case) -> None:
    if case.is_erased:
        raise CaseRuleError(_("This case was erased: nothing can be added to it."))


def require_not_closed(case: Case) -> None:
    require_live(case)
    if case.status == "closed":
        raise CaseRuleError(_("This case is closed. Reopen it first."))


def record_event(case: Case, what: str, actor, **details) -> None:
    """A line of the case's own history (codes and ids only)."""
    db.session.add(
        CaseEvent(
            case_id=case.id,
            organisation_id=case.organisation_id,
            occurred_at=utcnow(),
            actor_id=getattr(actor, "id", None),
            kind=what,
            details=details,
        )
    )


def wall_clock_to_utc(local: dt.datetime, department: str | None, field_name: str) -> dt.datetime:
    """A time typed in a form, to the minute, as naive UTC.

    Aware times (in the reader's zone, as the pages send them) are taken as they are; naive
    ones are read in the case's department's zone.
    """
    try:
        return to_utc(local.replace(second=0, microsecond=0), department)
    except (OverflowError, ValueError):  # year 1 or 9999 moved across a time zone
        raise CaseRuleError(_("This date and time are not valid."), field_name) from None


def note_edit_minutes() -> int:
    return int(current_app.config.get("CASE_NOTE_EDIT_MINUTES", 15))


# --- staff ----------------------------------------------------------------------------------


def case_holders(owner) -> list[StaffUser]:
    """Active staff of the owner's organisation who may hold cases: who a case or an action
    can go to. ``owner`` is a user or a case."""
    return list(db.session.scalars(scoped(holders(HOLD_CASES), StaffUser, owner)))


def check_assignee(owner, user_id: int | None) -> int | None:
    """``user_id`` if that person may hold cases in the owner's organisation."""
    if user_id is None:
        return None
    statement = scoped(holders(HOLD_CASES), StaffUser, owner).where(StaffUser.id == user_id)
    if db.session.scalar(statement.with_only_columns(StaffUser.id)) is None:
        raise CaseRuleError(_("Choose a social worker of your association."), "assignee_id")
    return user_id


def staff_names(owner) -> dict[int, str]:
    """Names of the staff of the owner's organisation, by id (authors, assignees)."""
    statement = select(StaffUser.id, StaffUser.first_name, StaffUser.last_name)
    rows = db.session.execute(scoped(statement, StaffUser, owner))
    return {row.id: f"{row.first_name} {row.last_name}".strip() for row in rows}
