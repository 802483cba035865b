"""The printable alert sheet: one alert, or a department's alerts of the week, in any alert
language, for partners to relay on outreach rounds.

Text comes from the alert renderer (``alert_text.render_alert``), so the sheet says exactly
what the app and SMS say. Headings of the sheet itself use the same ``alerts`` catalogue.
One alert fits one A4 page in every language, whatever its length (summary, identifiers,
description at their maximum: the type tightens step by step, ``DENSITIES``), with the French
emergency numbers (17, 112, 3919, 119) and the public site (``PUBLIC_SITE_URL``) at its foot.
Chinese, Cyrillic and Arabic need their fonts (Debian's fonts-noto-cjk, fonts-noto-core,
fonts-dejavu-core; ``make system-deps`` installs them); Arabic pages are laid out right to
left.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence

from babel.dates import format_date
from flask import current_app, has_app_context

from backoffice.services import alerts, audit
from backoffice.services.alert_text import (
    BABEL_LOCALES,
    CHECK_HINT,
    HEADING_ALERT,
    HEADING_SUMMARY,
    LABEL_DEPARTMENT,
    LABEL_VALUE,
    SUMMARY_FALLBACK,
    AlertContent,
    render_alert,
    translations_for,
)
from backoffice.services.vocabulary import ALERT_LANGUAGES, DEPARTMENTS, RIGHT_TO_LEFT_LANGUAGES
from backoffice.services.worker_texts import (
    emergency_heading,
    emergency_numbers,
    public_site_footer,
)
from reports_pdf import html_document, render_html

# Tighter type, step by step, until one alert fits its page: a summary at its 2,000
# characters in Chinese takes twice the lines of a French one. The first step tried is
# guessed from the summary's width (a wide character counts twice), so that most sheets are
# laid out once.
DENSITIES = (0, 1, 2, 3)
DENSITY_WIDTHS = (2200, 3000, 3600)


def _first_density(contents: Sequence[AlertContent], language: str) -> int:
    if len(contents) != 1:
        return 0
    summary = contents[0].summaries.get(language) or contents[0].summaries.get("fr") or ""
    width = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in summary)
    return sum(width >= limit for limit in DENSITY_WIDTHS)


def _rows(rows) -> list[dict]:
    return [{"label": label, "value": value} for label, value in rows]


def _alert_block(content: AlertContent, language: str) -> dict:
    rendered = render_alert(content, language)
    return {
        "reference": content.reference,
        "severity": content.severity,
        "title": rendered.title,
        "facts": _rows(rendered.sections[0][1]) if rendered.sections else [],
        "sections": [
            {"heading": heading, "rows": _rows(rows)} for heading, rows in rendered.sections[1:]
        ],
        "summary": rendered.summary,
        "summary_is_fallback": rendered.summary_is_fallback,
    }


def sheet_context(
    contents: Sequence[AlertContent],
    language: str,
    *,
    department: str | None = None,
    check_url: str | None = None,
    site_url: str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Primitive values only: what the template needs, nothing it could lazy-load."""
    if language not in ALERT_LANGUAGES:
        raise ValueError(f"{language!r} is not an alert language")
    catalogue = translations_for(language)
    today = today or dt.date.today()
    locale = BABEL_LOCALES[language]
    heading = catalogue.gettext(HEADING_ALERT)
    if department:
        label = catalogue.gettext(LABEL_DEPARTMENT)
        heading = (
            f"{heading} — {catalogue.gettext(LABEL_VALUE) % {'label': label, 'value': department}}"
        )
    week_start = today - dt.timedelta(days=7)
    return {
        "language": language,
        "direction": "rtl" if language in RIGHT_TO_LEFT_LANGUAGES else "ltr",
        "heading": heading,
        "period": (
            f"{format_date(week_start, 'medium', locale=locale)} – "
            f"{format_date(today, 'medium', locale=locale)}"
            if department
            else format_date(today, "medium", locale=locale)
        ),
        "summary_heading": catalogue.gettext(HEADING_SUMMARY),
        "fallback_note": catalogue.gettext(SUMMARY_FALLBACK),
        "check_hint": catalogue.gettext(CHECK_HINT) % {"url": check_url} if check_url else "",
        "alerts": [_alert_block(content, language) for content in contents],
        "emergency_heading": emergency_heading(language),
        "emergency_numbers": emergency_numbers(language),
        "site_footer": public_site_footer(language, site_url) if site_url else "",
    }


def configured_site_url() -> str | None:
    """The public site printed at the foot of every sheet (``PUBLIC_SITE_URL``)."""
    return current_app.config.get("PUBLIC_SITE_URL") if has_app_context() else None


def build_alert_sheet(
    contents: Sequence[AlertContent],
    language: str,
    *,
    department: str | None = None,
    check_url: str | None = None,
    site_url: str | None = None,
) -> bytes:
    """The PDF sheet of these alerts (already limited to published ones by the caller); its
    foot gives the emergency numbers and the public site (by default ``PUBLIC_SITE_URL``)."""
    context = sheet_context(
        contents,
        language,
        department=department,
        check_url=check_url,
        site_url=site_url or configured_site_url(),
    )
    for density in DENSITIES[_first_density(contents, language) :]:
        document = html_document(render_html("alert_sheet.html", density=density, **context))
        if len(contents) != 1 or len(document.pages) == 1:
            break
    return document.write_pdf()


class SheetError(ValueError):
    """Nothing to print: unknown language, department or alert (a sentence for the user)."""


def published_sheet(
    language: str, *, department: str | None = None, reference: str | None = None
) -> tuple[bytes, int]:
    """(PDF, number of alerts) for one live alert or a department's week; published only."""
    if language not in ALERT_LANGUAGES:
        raise SheetError(
            f"Unknown alert language {language!r}; use one of {', '.join(ALERT_LANGUAGES)}."
        )
    if bool(department) == bool(reference):
        raise SheetError("Give either --department or --reference.")
    check_url = current_app.config.get("PUBLIC_BASE_URL")
    if reference:
        alert = alerts.live_alert_by_reference(reference)
        if alert is None:
            raise SheetError(f"No published alert {reference}.")
        selected = [alert]
    else:
        if department not in DEPARTMENTS:
            raise SheetError(f"Unknown department {department!r}.")
        selected = alerts.week_alerts(department)
    contents = [alerts.content_of(alert) for alert in selected]
    audit.record(
        "alert_sheet_printed",
        object_type="Alert" if reference else "Department",
        object_id=reference or department,
        details={"lang": language, "alerts": len(contents)},
    )
    pdf = build_alert_sheet(contents, language, department=department, check_url=check_url)
    return pdf, len(contents)
