"""The funder report: a PDF built with WeasyPrint from the dashboard's figures, and the runner
that builds a ``FunderReport`` record (for the page's background thread, the job, the command).

* **Same figures as the dashboard.** ``statistics.for_funder_report``: the dashboard's
  computation with the small-cell threshold (a PDF is an export: always suppressed), the same
  tables and the same SVG charts (``services.charts``).
* **Templates fed primitive values.** ``document_context`` turns the figures into dicts of
  strings and numbers; ``templates/funder_report.html`` never sees a model.
* **Nothing fetched from outside.** ``reports_pdf.html_to_pdf``: the stylesheet is an
  ``asset:`` of ``reports_pdf/static``; any other URL (network, files, ``data:``) is refused.
* **Records.** What a build is and may be lives in ``services.statistics.funder_reports``; this
  module renders, and ``run_build`` saves the progress between steps (``checkpoint``) so that
  the page can follow it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from babel.dates import format_datetime
from flask import Flask
from flask_babel import force_locale, format_date, get_locale, gettext, ngettext
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.statistics import FunderReport
from backoffice.services import statistics, suppression, timezones
from backoffice.services.statistics import Period, Scope, funder_reports
from reports_pdf import TEMPLATES_DIR, html_to_pdf

log = logging.getLogger(__name__)

TEMPLATE = "funder_report.html"
Progress = Callable[[int, str], None]


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)
    return environment


# --- what the template receives ------------------------------------------------------------

# A table with more columns than this is printed in smaller type, its headers wrapped, so
# that it fits the page's width; one with at most SHORT_TABLE lines is kept on one page.
WIDE_TABLE = 5
SHORT_TABLE = 16


def _table(view: statistics.TableView) -> dict:
    return {
        "key": view.key,
        "title": view.title,
        "headers": view.headers,
        "rows": [view.texts(row) for row in view.rows],
        "total": view.texts(view.total),
        "labels": view.label_columns,
        "note": view.note,
        "withheld": view.withheld,
        "wide": len(view.headers) > WIDE_TABLE,
        "short": len(view.rows) <= SHORT_TABLE,
    }


def _moment(local: dt.datetime) -> str:
    """ "7 décembre 2026, 15:04 CET": a local time in the report's language, with its zone."""
    text = format_datetime(local, "d MMMM y, HH:mm", tzinfo=local.tzinfo, locale=get_locale())
    return f"{text} {local.tzname()}"


def document_context(
    presented: statistics.Presented, built_at: dt.datetime, partners: list[str] | None = None
) -> dict:
    """Primitive values only: strings, numbers, lists and dicts (and the SVG charts)."""
    figures = presented.figures
    scope = figures.scope
    charts = statistics.charts_for(presented)
    sections = []
    for section in figures.sections:
        tables = [_table(view) for view in statistics.table_views(presented, section)]
        owned = {key for key, owner in statistics.CHART_SECTIONS.items() if owner == section.code}
        sections.append(
            {
                "code": section.code,
                "title": str(section.title),
                "note": str(section.note) if section.note else None,
                "tables": tables,
                "charts": [
                    {"title": chart.title, "svg": chart.svg}
                    for key, chart in charts.items()
                    if key in owned
                ],
            }
        )
    threshold = presented.threshold or statistics.threshold()
    local = timezones.to_local(built_at, scope.department)
    return {
        "period": scope.period.label(),
        "start": format_date(scope.period.start, "long"),
        "end": format_date(scope.period.end, "long"),
        "days": scope.period.days,
        "department": scope.department,
        "built_at": _moment(local),
        "partners": list(partners or []),
        "threshold": threshold,
        "small_mark": suppression.primary_mark(threshold),
        "secondary_mark": suppression.SECONDARY_MARK,
        "key_figures": [
            {"code": f.figure.code, "label": str(f.figure.label), "text": f.text}
            for f in presented.key_figures
        ],
        "sections": sections,
    }


# --- rendering ---------------------------------------------------------------------------------


def render_html(
    period: Period,
    language: str,
    department: str | None = None,
    progress: Progress | None = None,
    built_at: dt.datetime | None = None,
) -> str:
    """The report's HTML, figures computed now and suppressed, in ``language``."""
    funder_reports.check_language(language)
    progress = progress or (lambda _percent, _step: None)
    with force_locale(language):
        progress(10, "figures")
        presented = statistics.for_funder_report(Scope(period, department=department))
        progress(50, "charts")
        partners = funder_reports.partner_names()
        context = document_context(presented, built_at or utcnow(), partners)
        progress(65, "layout")
        return _environment().get_template(TEMPLATE).render(lang=language, **context)


def render(
    period: Period,
    language: str,
    department: str | None = None,
    progress: Progress | None = None,
    built_at: dt.datetime | None = None,
) -> bytes:
    """The report's PDF bytes."""
    progress = progress or (lambda _percent, _step: None)
    html = render_html(period, language, department, progress, built_at)
    progress(75, "pdf")
    with force_locale(language):
        pdf = html_to_pdf(html)
    progress(95, "store")
    return pdf


# --- building a record -------------------------------------------------------------------------


def run_build(report_id: int) -> FunderReport | None:
    """Build a queued report, saving its progress as it goes; a failure is recorded, never
    raised. Outside requests only (a job, a command, the page's background thread): it
    commits between steps, and the caller's unit of work commits the end."""
    report = funder_reports.buildable(report_id)
    if report is None:
        return db.session.get(FunderReport, report_id)
    started = time.perf_counter()
    funder_reports.mark_running(report)
    transactions.checkpoint()

    def progress(percent: int, step: str) -> None:
        funder_reports.mark_progress(report, percent, step)
        transactions.checkpoint()

    try:
        period = Period(report.period_start, report.period_end)
        pdf = render(period, report.language, report.department, progress=progress)
    except Exception as error:  # the page must say it failed, never hang at 50 %
        db.session.rollback()
        log.exception("Funder report %s failed", report_id)
        report = db.session.get(FunderReport, report_id)
        funder_reports.mark_failed(report, error)
        return report
    funder_reports.mark_built(report, pdf, time.perf_counter() - started)
    return report


def start_in_background(app: Flask, report_id: int) -> threading.Thread:
    """Build in a thread of this process; the page follows its progress in the database.
    Start it once the row is committed (the thread reads it with its own session)."""
    thread = threading.Thread(
        target=_run_in_app, args=(app, report_id), name=f"funder-report-{report_id}", daemon=True
    )
    thread.start()
    return thread


def _run_in_app(app: Flask, report_id: int) -> None:
    with app.app_context():
        try:
            with transactions.unit_of_work():
                run_build(report_id)
        finally:
            db.session.remove()


def build_now(
    period: Period, language: str, department: str | None, *, trigger: str, user=None
) -> FunderReport:
    """Build in this thread (the command and the scheduled job, in their unit of work)."""
    report = funder_reports.request_build(period, language, department, user=user, trigger=trigger)
    built = run_build(report.id)
    if built is None or built.status != "done":
        transactions.checkpoint()  # the failure stays recorded
        raise RuntimeError("the report could not be built; see the log")
    return built


def build_scheduled_reports(today: dt.date | None = None) -> list[int]:
    """The ``monthly_funder_report`` job: last month's report, and last year's in January.

    Built in French and in English; a report the schedule already built for the same
    parameters is not built again (the job may run twice after a restart).
    """
    today = today or utcnow().date()
    return [
        build_now(period, language, None, trigger="schedule").id
        for period, language in funder_reports.scheduled_builds(today)
    ]
