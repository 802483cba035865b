"""Urgent deadlines that medicine sets, counted from the incident.

After a rape, an attempted rape or a non-consensual condom removal, HIV post-exposure
treatment must start within 48 hours of the exposure. The deadline is stored (naive UTC,
computed in the department's time zone, from the start of the day when the time is unknown,
which errs on the early side) and the time left is computed on display. The flag is only
raised while the deadline is still ahead.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _

from backoffice.models.base import utcnow
from backoffice.models.case import FLAG_DELAYS_HOURS, Case, CaseFlag
from backoffice.services.timezones import to_utc

# Exposures after which HIV post-exposure treatment (PEP) is indicated.
PEP_VIOLENCE_TYPES = frozenset({"rape", "attempted_rape", "condom_removal"})


def flag_deadline(
    kind: str, incident_date: dt.date | None, incident_time: dt.time | None, department: str | None
) -> dt.datetime | None:
    """The deadline medicine sets for ``kind``, counted from the incident (naive UTC)."""
    hours = FLAG_DELAYS_HOURS.get(kind)
    if hours is None or incident_date is None:
        return None
    start = dt.datetime.combine(incident_date, incident_time or dt.time(0, 0))
    return to_utc(start, department) + dt.timedelta(hours=hours)


def time_left(deadline: dt.datetime | None, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Time until the deadline; negative once it passed; None without a deadline."""
    if deadline is None:
        return None
    return deadline - (now or utcnow())


def describe_time_left(left: dt.timedelta | None) -> str:
    """ "31 h 20 min left" or "passed 3 h 5 min ago", in the user's language."""
    if left is None:
        return ""
    span = describe_span(left)
    if left.total_seconds() >= 0:
        return _("%(span)s left", span=span)
    return _("passed %(span)s ago", span=span)


def describe_span(delta: dt.timedelta) -> str:
    """ "31 h 20 min", or "4 d 3 h" from 72 hours on, in the user's language."""
    minutes = int(abs(delta).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24) if hours >= 72 else (0, hours)
    if days:
        return _("%(days)d d %(hours)d h", days=days, hours=hours)
    return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)


def pep_deadline_of(report) -> dt.datetime | None:
    """The 48-hour treatment deadline a report calls for, while it is still ahead."""
    if not PEP_VIOLENCE_TYPES & set(report.violence_types or []):
        return None
    deadline = flag_deadline("pep", report.incident_date, report.incident_time, report.department)
    return deadline if deadline is not None and deadline > utcnow() else None


def raise_deadline_flags(case: Case, actor) -> None:
    """Raise (or move) the PEP flag when the facts call for it and time is left."""
    if not PEP_VIOLENCE_TYPES & set(case.violence_types or []):
        return
    deadline = flag_deadline("pep", case.incident_date, case.incident_time, case.department)
    existing = next((f for f in case.flags if f.kind == "pep" and f.resolved_at is None), None)
    if existing is not None:
        existing.deadline = deadline
        return
    if deadline is None or deadline <= utcnow():
        return
    case.flags.append(
        CaseFlag(
            organisation_id=case.organisation_id,
            kind="pep",
            deadline=deadline,
            created_by_id=getattr(actor, "id", None),
        )
    )
