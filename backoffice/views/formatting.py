"""Template filters shared by every screen: local times with their zone, and the display rule
that removes bidirectional control characters from every value a template prints."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date, format_datetime
from flask import Flask, g
from flask_babel import get_locale
from markupsafe import Markup

from backoffice.services.bidi import strip_bidi_controls
from backoffice.services.timezones import to_local, zone_of_user


def local_time(value: dt.datetime | None, zone=None) -> str:
    """A stored (naive UTC) moment in the reader's zone, with the zone: "07/12/2026 14:05 CET".

    ``zone`` is a ZoneInfo or a department code; by default the signed-in user's
    organisation's zone.
    """
    if value is None:
        return ""
    aware = to_local(value, zone if zone is not None else zone_of_user(g.get("user")))
    text = format_datetime(aware, "short", tzinfo=aware.tzinfo, locale=get_locale() or "fr")
    return f"{text} {aware.tzname()}"


def local_date(value: dt.date | dt.datetime | None, zone=None) -> str:
    """A date in the reader's language; a stored moment is first taken to local time."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value, zone if zone is not None else zone_of_user(g.get("user"))).date()
    return format_date(value, "medium", locale=get_locale() or "fr")


def displayed(value: object) -> object:
    """Jinja's ``finalize``: every ``{{ value }}`` of every template, FAB's included, is
    printed without bidirectional controls, so text a victim or partner typed cannot reorder
    what staff read."""
    if isinstance(value, Markup):
        return Markup(strip_bidi_controls(str(value)))  # noqa: S704 - already Markup: removing characters adds no markup
    if isinstance(value, str):
        return strip_bidi_controls(value)
    return value


def install(app: Flask) -> None:
    app.jinja_env.finalize = displayed
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["local_date"] = local_date
