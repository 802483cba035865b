"""Template filters shared by every screen: local times with their zone, role names in the
reader's language, left-to-right islands (numbers, plates, references) in right-to-left text,
and the display rule that removes bidirectional control characters from every printed value."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date, format_datetime, format_timedelta
from flask import Flask, current_app, g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from backoffice import security
from backoffice.models.base import utcnow
from backoffice.services.bidi import isolate, strip_bidi_controls
from backoffice.services.timezones import to_local, zone_of_user
from backoffice.views import role_labels


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


def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago a stored (naive UTC) moment was, in the reader's language: "il y a 3 h"."""
    if value is None:
        return ""
    elapsed = (now or utcnow()) - value
    return format_timedelta(
        -elapsed,
        granularity="minute",
        threshold=1.5,
        add_direction=True,
        format="short",
        locale=get_locale() or "fr",
    )


def displayed(value: object) -> object:
    """Jinja's ``finalize``: every ``{{ value }}`` of every template, FAB's included, is
    printed without bidirectional controls, so text a victim or partner typed cannot reorder
    what staff read."""
    if isinstance(value, Markup):
        return Markup(strip_bidi_controls(str(value)))  # noqa: S704 - already Markup: removing characters adds no markup
    if isinstance(value, str):
        return strip_bidi_controls(value)
    return value


# The one place where role names (security.ROLES) get their French/English labels.
ROLE_LABELS = {
    security.ADMIN: _l("Administrator"),
    security.MODERATOR: _l("Moderator"),
    security.SOCIAL_WORKER: _l("Social worker"),
    security.COORDINATOR: _l("Programme coordinator"),
    security.OUTREACH: _l("Outreach worker"),
    security.PARTNER_RELAY: _l("Partner relay"),
    security.DATA_PROTECTION: _l("Data protection officer"),
}
RIGHT_TO_LEFT = frozenset({"ar", "he", "fa", "ur"})


def role_label(role) -> str:
    """A role (or its name) as the reader says it: "Modératrice/Modérateur"."""
    name = getattr(role, "name", role)
    return str(ROLE_LABELS.get(name, name))


def stock_value(value):
    """A value in FAB's stock list and show screens as a reader says it: "Oui", not "True";
    "—", not "None"; role labels, not role names."""
    if value is None:
        return "—"
    if value is True:
        return _l("Yes")
    if value is False:
        return _l("No")
    if isinstance(value, str):
        return role_label(value) if value in ROLE_LABELS else value
    if type(value).__name__ == "Role":
        return role_label(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(stock_value(v)) for v in value)
    return value


def empty_list_sentence(modelview_name: str, filters=None) -> str:
    """What an empty stock list says: that no row matches the filters, or the view's own
    sentence (``list_empty``: "No outreach round yet.")."""
    if filters is not None and getattr(filters, "values", None):
        return str(_l("No row matches these filters."))
    for view in current_app.appbuilder.baseviews:
        if type(view).__name__ == modelview_name:
            return str(getattr(view, "list_empty", None) or _l("Nothing here yet."))
    return str(_l("Nothing here yet."))


def permission_areas(permission_views) -> list:
    """A role's permissions grouped by area, in words (views/role_labels.py)."""
    return role_labels.describe(current_app.appbuilder, permission_views)


def permission_summary(permission_views) -> str:
    return role_labels.summary(current_app.appbuilder, permission_views)


def current_locale() -> str:
    return str(get_locale() or "fr")


def text_direction(language: str | None = None) -> str:
    return "rtl" if (language or current_locale()).split("_")[0] in RIGHT_TO_LEFT else "ltr"


def install(app: Flask) -> None:
    app.jinja_env.finalize = displayed
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["role_label"] = role_label
    app.jinja_env.filters["isolate"] = isolate
    app.jinja_env.filters["stock_value"] = stock_value
    app.jinja_env.filters["permission_areas"] = permission_areas
    app.jinja_env.filters["permission_summary"] = permission_summary
    app.jinja_env.globals["current_locale"] = current_locale
    app.jinja_env.globals["empty_list_sentence"] = empty_list_sentence
    app.jinja_env.globals["text_direction"] = text_direction
