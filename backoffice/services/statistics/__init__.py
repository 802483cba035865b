"""Advocacy statistics: what the programme did, counted in SQL, never revealing a person.

Definitions (the funder report's methodology page repeats them)
---------------------------------------------------------------
* **Period**: a report belongs to the period in which it was *received* (``received_at``,
  UTC); an alert to the period of its publication, retraction or expiry; a case to the period
  it was opened; a referral to the period it was made; identifier checks to their month.
* **Reports counted**: received reports whose victim agreed to anonymous statistics, except
  those rejected by moderation and those merged into another report (duplicates). Reports
  whose victim refused statistics are left out of **every** figure: counts, delays, alerts
  backed only by such reports, the cases opened from them and their referrals.
* **Moderation decision**: the first approval, rejection, merge or "record only" of a report;
  **publication**: its first publication in an alert. Delays run from receipt, in hours, per
  month of receipt; medians are computed in SQL.
* **Scope**: whoever may ``read_all_statistics`` sees every organisation, aggregated, with
  small-cell suppression (``services.suppression``). Whoever may ``read_own_statistics`` sees
  her own organisation's figures (reports it filed or that were routed to it, its cases and
  referrals, its subscribers and outreach rounds); on screen as they are, and suppressed in
  every export. Alerts and identifier checks belong to no organisation: programme-wide
  viewers only.

The package, along its seams
----------------------------
* ``periods``: periods, groupings and their buckets (what a user may ask for);
* ``viewers``: the scope of a computation, and who sees what (``viewer_for``, ``threshold``);
* ``sql``: dialect helpers (SQLite and PostgreSQL);
* ``sources``: THE definition of the figures, as source rows (day, department, dimension,
  value, count), per department and programme-wide;
* ``rollup``: the daily rollup of those rows (written by jobs only) and where a computation
  reads its rows: the rollup for the programme and for one department, with the days
  changed since its last refresh computed live; everything live for an organisation;
* ``reading``: the reading queries (months, regions, medians, stocks);
* ``figures`` and ``sections``: ``compute``, every table and key figure, in sections;
* ``presentation``: suppression applied for a viewer, table lines, charts, numbers;
* ``funder_reports``: the funder report records (requests, build steps, the schedule).

Nothing here renders a PDF (``reports_pdf.funder_report`` does) or commits (the request, the
job or the command does).
"""

from backoffice.services.statistics.figures import Figures, KeyFigure, Measure, Section
from backoffice.services.statistics.periods import (
    GRANULARITIES,
    MAX_DAILY_DAYS,
    MAX_PERIOD_DAYS,
    Period,
    PeriodError,
    check_grouping,
    quick_periods,
)
from backoffice.services.statistics.presentation import (
    CHART_SECTIONS,
    Presented,
    ShownChart,
    ShownFigure,
    TableView,
    Trend,
    charts_for,
    compare,
    dashboard,
    for_export,
    for_funder_report,
    format_number,
    format_value,
    present,
    table_view,
    table_views,
)
from backoffice.services.statistics.rollup import rebuild_rollup, refresh_rollup
from backoffice.services.statistics.sections import compute
from backoffice.services.statistics.viewers import Scope, Viewer, threshold, viewer_for

__all__ = [
    "CHART_SECTIONS",
    "GRANULARITIES",
    "MAX_DAILY_DAYS",
    "MAX_PERIOD_DAYS",
    "Figures",
    "KeyFigure",
    "Measure",
    "Period",
    "PeriodError",
    "Presented",
    "Scope",
    "Section",
    "ShownChart",
    "ShownFigure",
    "TableView",
    "Trend",
    "Viewer",
    "charts_for",
    "check_grouping",
    "compare",
    "compute",
    "dashboard",
    "for_export",
    "for_funder_report",
    "format_number",
    "format_value",
    "present",
    "quick_periods",
    "rebuild_rollup",
    "refresh_rollup",
    "table_view",
    "table_views",
    "threshold",
    "viewer_for",
]
