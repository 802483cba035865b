"""The funder and advocacy report: a PDF built with WeasyPrint from the dashboard's figures.

* **Same figures as the dashboard.** ``statistics.compute`` then ``statistics.present`` with
  the small-cell threshold (a PDF is an export: always suppressed), the same tables and the
  same SVG charts (``services.charts``).
* **Templates fed primitive values.** ``document_context`` turns the figures into dicts of
  strings and numbers; the Jinja templates under ``reports_pdf/funder/`` never see a model.
* **Restricted URL fetcher.** WeasyPrint may only read files of ``reports_pdf/funder/`` (the
  stylesheet); any other URL — network, other files, ``data:`` — is refused.
* **Kept and listed.** Each build is a ``BuiltReport`` row: parameters, language, period,
  status and progress (the page polls it while a background thread builds), build time,
  SHA-256 and the PDF. Requested on the page, scheduled (``build_scheduled``, monthly and
  yearly) or built by ``flask --app wsgi reports build``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import mimetypes
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import force_locale, format_datetime, gettext, ngettext
from flask_babel import lazy_gettext as _l
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.statistics import BuiltReport
from backoffice.services import audit, statistics, suppression
from backoffice.services.statistics import Period, Scope

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
ASSETS = Path(__file__).resolve().parent / "funder"
STALE_MINUTES = 30  # a build "running" longer than this died with its process
Progress = Callable[[int, str], None]


class BuildRefused(ValueError):
    """Parameters that cannot give a report (the message is for the user)."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


# --- WeasyPrint plumbing ---------------------------------------------------------------------


def restricted_fetcher():
    """A WeasyPrint URL fetcher that serves only the report's own assets.

    Network, ``data:`` and any file outside ``reports_pdf/funder/`` are refused (WeasyPrint
    then leaves the resource out): a template can never make the builder read a secret file
    or call a server.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class AssetsOnlyFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols={"file"}, allow_redirects=False)

        def fetch(self, url, headers=None):
            return URLFetcherResponse(url, *_asset(url))

    return AssetsOnlyFetcher()


def _asset(url: str) -> tuple[bytes, dict]:
    """The bytes and content type of one of the report's assets; ValueError for anything else."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ValueError(f"blocked URL scheme in a report: {parsed.scheme or 'none'}")
    path = Path(unquote(parsed.path)).resolve()
    if ASSETS not in path.parents or not path.is_file():
        raise ValueError("blocked file outside the report's assets")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path.read_bytes(), {"Content-Type": kind}


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(ASSETS)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)
    return environment


# --- what the template receives ------------------------------------------------------------


def _texts(cells: list | None, labels: int) -> list[str] | None:
    if cells is None:
        return None
    return [*cells[:labels], *[statistics.format_number(c) for c in cells[labels:]]]


def document_context(presented: statistics.Presented, built_at: dt.datetime) -> dict:
    """Primitive values only: strings, numbers, lists and dicts (and the SVG charts)."""
    figures = presented.figures
    scope = figures.scope
    charts = statistics.charts_for(presented)
    sections = []
    for section in figures.sections:
        tables = [
            {
                "key": view.key,
                "title": view.title,
                "headers": view.headers,
                "rows": [_texts(row, view.label_columns) for row in view.rows],
                "total": _texts(view.total, view.label_columns),
                "labels": view.label_columns,
                "note": view.note,
                "withheld": view.withheld,
            }
            for view in statistics.table_views(presented, section)
        ]
        sections.append(
            {
                "code": section.code,
                "title": str(section.title),
                "available": section.available,
                "note": str(section.note) if section.note else None,
                "tables": tables,
                "charts": [svg for key, svg in charts.items() if key in _chart_keys(section)],
            }
        )
    threshold = presented.threshold or statistics.threshold()
    return {
        "period": scope.period.label(),
        "start": scope.period.start.isoformat(),
        "end": scope.period.end.isoformat(),
        "days": scope.period.days,
        "department": scope.department,
        "built_at": format_datetime(built_at, "medium") + " UTC",
        "threshold": threshold,
        "small_mark": suppression.primary_mark(threshold),
        "secondary_mark": suppression.SECONDARY_MARK,
        "key_figures": [
            {"code": f.figure.code, "label": str(f.figure.label), "text": f.text}
            for f in presented.key_figures
        ],
        "sections": sections,
    }


def _chart_keys(section: statistics.Section) -> set[str]:
    return {key for key, owner in statistics.CHART_SECTIONS.items() if owner == section.code}


# --- building --------------------------------------------------------------------------------


def render(
    period: Period,
    language: str,
    department: str | None = None,
    progress: Progress | None = None,
    built_at: dt.datetime | None = None,
) -> bytes:
    """The report's PDF bytes (figures computed now, suppressed)."""
    from weasyprint import HTML

    if language not in LANGUAGES:
        raise BuildRefused(_l("Choose French or English."))
    progress = progress or (lambda _percent, _step: None)
    built_at = built_at or utcnow()
    with force_locale(language):
        progress(10, "figures")
        scope = Scope(period, department=department)
        presented = statistics.present(statistics.compute(scope), statistics.threshold())
        progress(50, "charts")
        context = document_context(presented, built_at)
        progress(65, "layout")
        html = _environment().get_template("report.html").render(lang=language, **context)
        progress(75, "pdf")
        # WeasyPrint warns about font details: keep the logs to real problems.
        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        logging.getLogger("fontTools").setLevel(logging.ERROR)
        document = HTML(
            string=html, base_url=str(ASSETS) + "/", url_fetcher=restricted_fetcher()
        ).render()
        pdf = document.write_pdf()
    progress(95, "store")
    return pdf


def request_build(
    period: Period,
    language: str,
    department: str | None,
    *,
    user=None,
    trigger: str = "request",
) -> BuiltReport:
    """A queued build (the caller commits and starts it); an identical one in progress is
    returned instead of a second."""
    period.check()
    if language not in LANGUAGES:
        raise BuildRefused(_l("Choose French or English."))
    Scope(period, department=department)  # refuses an unknown department
    _expire_stale_builds()
    pending = db.session.scalars(
        select(BuiltReport).where(
            BuiltReport.period_start == period.start,
            BuiltReport.period_end == period.end,
            BuiltReport.language == language,
            BuiltReport.department.is_(None)
            if department is None
            else BuiltReport.department == department,
            BuiltReport.status.in_(("queued", "running")),
        )
    ).first()
    if pending is not None:
        return pending
    report = BuiltReport(
        kind="funder",
        period_start=period.start,
        period_end=period.end,
        language=language,
        department=department,
        parameters=_parameters(period, language, department),
        trigger=trigger,
        status="queued",
        progress=0,
        requested_by_id=getattr(user, "id", None),
        requested_at=utcnow(),
    )
    db.session.add(report)
    db.session.flush()
    audit.record(
        "funder_report_requested",
        report,
        details={"start": period.start.isoformat(), "end": period.end.isoformat(),
                 "language": language, "department": department or "", "trigger": trigger},
    )  # fmt: skip
    return report


def _parameters(period: Period, language: str, department: str | None) -> dict:
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "kind": period.kind,
        "language": language,
        "department": department,
        "threshold": statistics.threshold(),
        "scope": "programme",
    }


def start_in_background(app: Flask, report_id: int) -> threading.Thread:
    """Build in a thread of this process; the page follows its progress in the database."""
    thread = threading.Thread(
        target=_run_in_app, args=(app, report_id), name=f"funder-report-{report_id}", daemon=True
    )
    thread.start()
    return thread


def _run_in_app(app: Flask, report_id: int) -> None:
    with app.app_context():
        try:
            run_build(report_id)
        finally:
            db.session.remove()


def run_build(report_id: int) -> BuiltReport | None:
    """Build a queued report, writing its progress as it goes; never raises."""
    report = db.session.get(BuiltReport, report_id)
    if report is None or report.status not in ("queued", "running"):
        return report
    started = time.perf_counter()
    report.status, report.started_at, report.progress, report.step = "running", utcnow(), 5, "start"
    db.session.commit()

    def progress(percent: int, step: str) -> None:
        report.progress, report.step = percent, step
        db.session.commit()

    try:
        period = Period(report.period_start, report.period_end)
        pdf = render(period, report.language, report.department, progress=progress)
    except Exception as error:  # the page must say it failed, never hang at 50 %
        db.session.rollback()
        log.exception("Funder report %s failed", report_id)
        report = db.session.get(BuiltReport, report_id)
        report.status, report.step = "failed", "failed"
        report.error = type(error).__name__
        db.session.commit()
        return report
    _store(report, pdf, time.perf_counter() - started)
    db.session.commit()
    return report


def _store(report: BuiltReport, pdf: bytes, seconds: float) -> None:
    report.pdf = pdf
    report.sha256 = hashlib.sha256(pdf).hexdigest()
    report.size_bytes = len(pdf)
    report.build_seconds = round(seconds, 2)
    report.built_at = utcnow()
    report.status, report.progress, report.step = "done", 100, "done"
    audit.record(
        "funder_report_built",
        report,
        details={"sha256": report.sha256[:16], "bytes": len(pdf), "trigger": report.trigger},
    )


def build_now(
    period: Period, language: str, department: str | None, *, trigger: str, user=None
) -> BuiltReport:
    """Build in this thread (the command and the scheduled job)."""
    report = request_build(period, language, department, user=user, trigger=trigger)
    db.session.commit()
    built = run_build(report.id)
    if built is None or built.status != "done":
        raise RuntimeError("the report could not be built; see the log")
    return built


def build_scheduled(period: Period, language: str) -> BuiltReport | None:
    """The scheduled build of a period, unless the schedule already built it."""
    done = db.session.scalar(
        select(BuiltReport.id).where(
            BuiltReport.trigger == "schedule",
            BuiltReport.status == "done",
            BuiltReport.period_start == period.start,
            BuiltReport.period_end == period.end,
            BuiltReport.language == language,
            BuiltReport.department.is_(None),
        )
    )
    if done is not None:
        return None
    return build_now(period, language, None, trigger="schedule")


def _expire_stale_builds() -> None:
    """Builds left "running" by a process that stopped are marked failed."""
    limit = utcnow() - dt.timedelta(minutes=STALE_MINUTES)
    for report in db.session.scalars(
        select(BuiltReport).where(
            BuiltReport.status.in_(("queued", "running")), BuiltReport.requested_at < limit
        )
    ):
        report.status, report.step, report.error = "failed", "failed", "interrupted"


def recent_builds(limit: int = 50) -> list[BuiltReport]:
    _expire_stale_builds()
    return list(
        db.session.scalars(
            select(BuiltReport).order_by(BuiltReport.requested_at.desc()).limit(limit)
        )
    )


def app_object() -> Flask:
    return current_app._get_current_object()


# --- the command -------------------------------------------------------------------------------

reports_cli = AppGroup("reports", help="Build the funder and advocacy reports.")


@reports_cli.command("build")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), default="fr", show_default=True)
@click.option("--department", default=None, help="Only this department (e.g. 75).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def build_command(start: str, end: str, language: str, department: str | None, out: str) -> None:
    """Build a funder report (kept in the list of built reports) and write it to OUT."""
    try:
        period = Period.parse(start, end)
        report = build_now(period, language, department, trigger="command")
    except (statistics.PeriodError, BuildRefused) as error:
        raise click.ClickException(str(error.message)) from None
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    Path(out).write_bytes(report.pdf)
    click.echo(
        f"{out}: {report.size_bytes} bytes, sha256 {report.sha256}, "
        f"built in {report.build_seconds:.1f} s (report #{report.id})"
    )
