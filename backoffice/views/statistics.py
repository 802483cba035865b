"""The statistics dashboard, its exports, and the funder reports page.

Thin views: ``services.statistics`` decides what a user sees (``viewer_for``: programme-wide
and suppressed for whoever may read all statistics; her own organisation for whoever may read
her own, suppressed in exports) and keeps the funder report records; this module orchestrates
a build (``reports_pdf.funder_report`` renders it, in a thread started once the request has
committed the record). Every export and download is written to the audit trail with its
parameters (codes only). Nothing here commits: the request does, once.
"""

from __future__ import annotations

import datetime as dt
import io

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.statistics import FunderReport
from backoffice.security import (
    ADMIN,
    ALL,
    COORDINATOR,
    DATA_PROTECTION,
    MODERATOR,
    SOCIAL_WORKER,
    can,
)
from backoffice.services import audit, spreadsheets, statistics
from backoffice.services.statistics import Period, PeriodError, Scope, funder_reports
from backoffice.services.vocabulary import DEPARTMENTS
from reports_pdf import funder_report

EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
STEP_LABELS: dict[str, object] = {
    "start": _l("Starting"),
    "figures": _l("Computing the figures"),
    "charts": _l("Drawing the charts"),
    "layout": _l("Laying out the pages"),
    "pdf": _l("Writing the PDF"),
    "store": _l("Saving"),
    "done": _l("Ready"),
    "failed": _l("Failed"),
}


def _viewer() -> statistics.Viewer:
    viewer = statistics.viewer_for(g.user)
    if viewer is None:
        abort(403)
    return viewer


def _default_period(today: dt.date) -> Period:
    return Period(dt.date(today.year, 1, 1), today)


def _requested(viewer: statistics.Viewer) -> tuple[Scope, str]:
    """The scope and grouping asked for in the query string; ``PeriodError`` when unusable."""
    args = request.args
    if args.get("period"):
        period = Period.from_code(args["period"])
    elif args.get("start") or args.get("end"):
        period = Period.parse(args.get("start"), args.get("end"))
    else:
        period = _default_period(utcnow().date())
    department = (args.get("department") or "").strip().upper() or None
    granularity = args.get("granularity") or "month"
    statistics.check_grouping(period, granularity)
    return Scope(period, department=department, organisation_id=viewer.organisation_id), granularity


def _query(scope: Scope, granularity: str) -> dict:
    query = {"start": scope.period.start.isoformat(), "end": scope.period.end.isoformat()}
    if scope.department:
        query["department"] = scope.department
    if granularity != "month":
        query["granularity"] = granularity
    return query


class StatisticsView(BaseView):
    route_base = "/statistics"
    default_view = "dashboard"
    class_permission_name = "StatisticsView"
    base_permissions = ["can_dashboard", "can_export"]
    access = {
        COORDINATOR: ALL,
        SOCIAL_WORKER: ALL,
        MODERATOR: ALL,
        ADMIN: ALL,
        DATA_PROTECTION: ALL,
    }

    @expose("/")
    @has_access
    def dashboard(self):
        viewer = _viewer()
        try:
            scope, granularity = _requested(viewer)
        except PeriodError as error:
            flash(str(error.message), "warning")
            today = utcnow().date()
            scope = Scope(_default_period(today), organisation_id=viewer.organisation_id)
            granularity = "month"
        presented = statistics.dashboard(scope, viewer, granularity)
        charts = statistics.charts_for(presented)
        today = utcnow().date()
        return self.render_template(
            "statistics/dashboard.html",
            presented=presented,
            scope=scope,
            viewer=viewer,
            granularity=granularity,
            granularities=statistics.GRANULARITIES,
            departments=DEPARTMENTS,
            query=_query(scope, granularity),
            quick=[(label, p) for label, p in statistics.quick_periods(today)],
            charts_of=lambda section: [
                charts[key]
                for key, owner in statistics.CHART_SECTIONS.items()
                if owner == section.code and key in charts
            ],
            table_views=lambda section: statistics.table_views(presented, section),
            number=statistics.format_value,
            threshold=statistics.threshold(),
            may_build=can("build_funder_report"),
            languages=_report_languages(),
        )

    @expose("/export/<key>.<fmt>")
    @has_access
    def export(self, key: str, fmt: str):
        viewer = _viewer()
        if fmt not in EXPORT_FORMATS:
            abort(404)
        try:
            scope, granularity = _requested(viewer)
        except PeriodError as error:
            flash(str(error.message), "warning")
            return redirect(url_for("StatisticsView.dashboard"))
        presented = statistics.for_export(scope, viewer, granularity)
        view = statistics.table_view(presented, key)
        if view is None:
            abort(404)
        audit.record(
            "statistics_exported",
            object_type="StatisticsTable",
            object_id=key,
            details={
                "format": fmt,
                "start": scope.period.start.isoformat(),
                "end": scope.period.end.isoformat(),
                "department": scope.department or "",
                "scope": "programme" if viewer.programme_wide else "organisation",
            },
        )
        name = f"{key}_{scope.period.start}_{scope.period.end}"
        if scope.department:
            name += f"_{scope.department}"
        body = _csv(view) if fmt == "csv" else _xlsx(view, scope)
        response = current_app.response_class(body, mimetype=EXPORT_FORMATS[fmt])
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
        return response


def _legend(scope: Scope) -> list[str]:
    k = statistics.threshold()
    return [
        _("Period: %(start)s to %(end)s", start=scope.period.start, end=scope.period.end),
        _("%(mark)s: a count from 1 to %(max)s.", mark=f"<{k}", max=k - 1),
        _("s: hidden so that no small count can be recomputed from the totals."),
    ]


def _body(view: statistics.TableView) -> list[list]:
    """The table's lines below its headers (a withheld table says so instead)."""
    if view.withheld:
        return [[_("Withheld: too few to publish without revealing someone.")]]
    lines = list(view.rows)
    if view.total is not None:
        lines.append(view.total)
    return [["" if cell is None else cell for cell in line] for line in lines]


def _csv(view: statistics.TableView) -> bytes:
    return spreadsheets.csv_text(view.headers, _body(view)).encode("utf-8")


def _xlsx(view: statistics.TableView, scope: Scope) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Table"
    sheet.append([view.title])
    sheet["A1"].font = Font(bold=True)
    for line in _legend(scope):
        sheet.append([line])
    sheet.append([])
    header_row = sheet.max_row + 1
    for line in [view.headers, *_body(view)]:
        # Numbers stay numbers; text goes through the spreadsheet rule (never a formula).
        sheet.append([spreadsheets.safe_cell(c) if isinstance(c, str) else c for c in line])
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 42
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- funder reports ---------------------------------------------------------------------------


LANGUAGE_LABELS: dict[str, object] = {"fr": _l("French"), "en": _l("English")}


def _report_languages() -> list[tuple[str, object]]:
    return [(code, LANGUAGE_LABELS[code]) for code in funder_reports.LANGUAGES]


def _requested_report_period(form) -> Period:
    preset = form.get("preset") or "custom"
    if preset != "custom":
        return Period.from_code(preset)
    return Period.parse(form.get("start"), form.get("end"))


def _report_presets(today: dt.date) -> list[tuple[str, str]]:
    months = []
    first = today.replace(day=1)
    for _index in range(3):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        months.append(Period.month(first.year, first.month))
    quarter = (today.month - 1) // 3 + 1
    end_of_last_quarter = Period.quarter(today.year, quarter).start - dt.timedelta(days=1)
    last_quarter = Period.quarter(
        end_of_last_quarter.year, (end_of_last_quarter.month - 1) // 3 + 1
    )
    periods = [*months, last_quarter, Period.year(today.year - 1)]
    return [(p.code, p.label()) for p in periods]


def _progress_json(shown: funder_reports.ShownBuild) -> dict:
    report = shown.report
    return {
        "id": report.id,
        "status": shown.status,
        "status_label": shown.status_label,
        "progress": report.progress,
        "step": str(STEP_LABELS.get(report.step or "", "")),
        "done": not shown.in_progress,
    }


def _build_once_committed(report_id: int) -> None:
    """Start the build when this request's transaction commits (the thread reads the row with
    its own connection); nothing starts if the request rolls back."""
    app = current_app._get_current_object()
    event.listen(
        db.session(),
        "after_commit",
        lambda _session: funder_report.start_in_background(app, report_id),
        once=True,
    )


class FunderReportView(BaseView):
    route_base = "/statistics/reports"
    default_view = "list"
    class_permission_name = "FunderReportView"
    base_permissions = ["can_list", "can_build", "can_progress", "can_download"]
    access = {
        COORDINATOR: ALL,
        ADMIN: ("can_list", "can_progress", "can_download"),
        MODERATOR: ("can_list", "can_progress", "can_download"),
    }

    @expose("/")
    @has_access
    def list(self):
        today = utcnow().date()
        return self.render_template(
            "statistics/reports.html",
            builds=funder_reports.recent_builds(),
            presets=_report_presets(today),
            languages=_report_languages(),
            departments=DEPARTMENTS,
            may_build=can("build_funder_report"),
            step_labels=STEP_LABELS,
            default_start=dt.date(today.year, 1, 1),
            default_end=today,
            language_names={code: label for code, label in _report_languages()},
        )

    @expose("/build", methods=["POST"])
    @has_access
    def build(self):
        if not can("build_funder_report"):
            abort(403)
        form = request.form
        department = (form.get("department") or "").strip().upper() or None
        try:
            period = _requested_report_period(form)
            report = funder_reports.request_build(
                period, form.get("language") or "", department, user=g.user
            )
        except (PeriodError, funder_reports.BuildRefused) as error:
            transactions.doom()
            flash(str(error.message), "warning")
            return redirect(url_for("FunderReportView.list"))
        if report.status == "queued":
            _build_once_committed(report.id)
        flash(_("The report is being built; this page shows its progress."), "info")
        return redirect(url_for("FunderReportView.list", _anchor=f"report-{report.id}"))

    @expose("/<int:report_id>/progress")
    @has_access
    def progress(self, report_id: int):
        report = db.session.get(FunderReport, report_id)
        if report is None:
            abort(404)
        return jsonify(_progress_json(funder_reports.shown_status(report)))

    @expose("/<int:report_id>/download")
    @has_access
    def download(self, report_id: int):
        report = db.session.get(FunderReport, report_id)
        if report is None or report.status != "done" or report.pdf is None:
            abort(404)
        audit.record("funder_report_downloaded", report, details={"sha256": report.sha256[:16]})
        response = current_app.response_class(report.pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{report.file_name}"'
        return response


def register(appbuilder) -> None:
    appbuilder.add_view(
        StatisticsView,
        "statistics_dashboard",
        label=_l("Dashboard"),
        icon="fa-bar-chart",
        category="Statistics",
        category_label=_l("Statistics"),
        category_icon="fa-line-chart",
    )
    appbuilder.add_view(
        FunderReportView,
        "funder_reports",
        label=_l("Funder reports"),
        icon="fa-file-pdf-o",
        category="Statistics",
    )
