"""Local time: the one place that knows which zone a department, an organisation or a user
lives in. Times are stored as naive UTC (models/base.py); everything shown to a person is
converted here, and shown with its zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backoffice.models.base import utcnow

PARIS = "Europe/Paris"
# Overseas departments whose clocks differ from Paris; every other department is Paris time.
OVERSEAS_ZONES: dict[str, str] = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}


def zone_for(department: str | None) -> ZoneInfo:
    """The zone of a department (Paris for metropolitan France and unknown codes)."""
    return ZoneInfo(OVERSEAS_ZONES.get(department or "", PARIS))


def zone_for_departments(departments) -> ZoneInfo:
    """The zone shared by every department given (an alert's); Paris when they differ."""
    zones = {OVERSEAS_ZONES.get(str(code), PARIS) for code in departments or ()}
    return ZoneInfo(zones.pop() if len(zones) == 1 else PARIS)


def zone_of_organisation(organisation) -> ZoneInfo:
    """An organisation's zone: that of its first department, Paris without one."""
    departments = list(getattr(organisation, "departments", None) or [])
    return zone_for(departments[0] if departments else None)


def zone_of_user(user) -> ZoneInfo:
    organisation = getattr(user, "organisation", None)
    return zone_of_organisation(organisation) if organisation is not None else zone_for(None)


def to_local(moment: dt.datetime, zone: ZoneInfo | str | None = None) -> dt.datetime:
    """A stored (naive UTC) or aware moment as an aware local time; ``zone`` is a ZoneInfo
    or a department code (Paris by default)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(_zone(zone))


def to_utc(local: dt.datetime, zone: ZoneInfo | str | None = None) -> dt.datetime:
    """A wall-clock time in ``zone`` (or a department's) as naive UTC, how times are stored."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=_zone(zone))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def local_today(zone: ZoneInfo | str | None = None) -> dt.date:
    return to_local(utcnow(), zone).date()


def _zone(zone: ZoneInfo | str | None) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else zone_for(zone)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` earlier (clamped to the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))
