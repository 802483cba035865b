"""What a viewer is shown: figures with small-cell suppression applied, as key figures,
table lines and SVG charts, for the dashboard, the exports and the funder report alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import format_percent
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from backoffice.services import charts, suppression
from backoffice.services.statistics.figures import Figures, KeyFigure, Measure, Section
from backoffice.services.statistics.sections import compute
from backoffice.services.statistics.viewers import Scope, Viewer, threshold
from backoffice.services.suppression import Table


@dataclass(frozen=True)
class Trend:
    """A key figure against the previous period: "up", "down" or "same", "+12 %"."""

    direction: str
    text: str  # empty when the previous figure was zero
    previous: str  # the previous period's figure, as shown


@dataclass
class ShownFigure:
    figure: KeyFigure
    text: str  # "1,234", "<5", "6.4", "97.9 %", "—"
    hidden: bool
    trend: Trend | None = None


@dataclass
class Presented:
    """Figures ready for a page, a chart, an export or the PDF (primitives only)."""

    figures: Figures
    threshold: int | None
    key_figures: list[ShownFigure]
    tables: dict[str, suppression.ShownTable]
    measures: dict[str, list[tuple[Measure, dict[str, float | str | None]]]]

    @property
    def sections(self) -> list[Section]:
        return self.figures.sections


def present(figures: Figures, k: int | None) -> Presented:
    """Apply small-cell suppression with threshold ``k`` (None: show figures as they are)."""
    tables: dict[str, suppression.ShownTable] = {}
    measures: dict[str, list] = {}
    for section in figures.sections:
        for table in section.tables:
            # Counts that are never shown (they only gate medians) need no suppression.
            shown = suppression.protect(table, k if table.counts_shown else None)
            tables[table.key] = shown
            measures[table.key] = [
                (m, _shown_measure(m, shown, k)) for m in section.measures.get(table.key, [])
            ]
    return Presented(
        figures=figures,
        threshold=k,
        key_figures=[_shown_key_figure(f, k, tables) for f in figures.key_figures],
        tables=tables,
        measures=measures,
    )


def _shown_measure(measure: Measure, shown: suppression.ShownTable, k: int | None) -> dict:
    columns = [c.code for c in shown.table.columns] + (["∑"] if shown.table.row_totals else [])
    result: dict[str, float | str | None] = {}
    lines = [(row.code, cells) for row, cells in shown.rows]
    if shown.total is not None:
        lines.append(("__total__", shown.total))
    for code, cells in lines:
        value = measure.values.get(code)
        bases = [cells[columns.index(b)] for b in measure.bases if b in columns]
        hidden = any(isinstance(b, str) for b in bases)
        if k is not None and any(isinstance(b, int) and b < k for b in bases):
            hidden = True  # a median of fewer than k reports would describe them
        result[code] = suppression.SECONDARY_MARK if hidden and value is not None else value
    return result


def _shown_key_figure(
    figure: KeyFigure, k: int | None, tables: dict[str, suppression.ShownTable]
) -> ShownFigure:
    if figure.kind == "count":
        value = suppression.shown_count(int(figure.value or 0), k)
        table = tables.get(figure.total_of[0]) if figure.total_of else None
        if table is not None and table.total is not None:
            # The total as its table shows it: the same text on every page.
            column = figure.total_of[1]
            value = table.total[-1] if column == "∑" else table.total[column]
        return ShownFigure(figure, format_number(value), isinstance(value, str))
    # A rate or a median resting on 1 to k-1 reports would describe them: not shown.
    hidden = k is not None and suppression.is_small(figure.base, k)
    if figure.value is None or hidden:
        return ShownFigure(figure, "—", hidden)
    return ShownFigure(figure, format_value(figure.value, figure.kind), False)


TREND_KINDS = ("count", "hours")


def compare(current: Presented, previous: Presented) -> Presented:
    """Key figures with their trend against the previous period, when both are shown."""
    before = {f.figure.code: f for f in previous.key_figures}
    for shown in current.key_figures:
        old = before.get(shown.figure.code)
        if old is None or shown.figure.kind not in TREND_KINDS:
            continue
        now_value, old_value = shown.figure.value, old.figure.value
        if shown.hidden or old.hidden or now_value is None or old_value is None:
            continue
        if old_value == now_value:
            direction, text = "same", "="
        elif old_value == 0:
            direction, text = "up", ""  # no rate of change from nothing
        else:
            change = (now_value - old_value) / old_value
            direction = "up" if change > 0 else "down"
            sign = "+" if change > 0 else "-"
            text = sign + format_percent(abs(change), locale=_locale())
        shown.trend = Trend(direction, text, old.text)
    return current


# Which chart belongs to which section (dashboard and PDF place them alike).
CHART_SECTIONS = {
    "trend": "reports",
    "violence_types": "reports",
    "regions": "reports",
    "delays": "moderation",
}


@dataclass(frozen=True)
class ShownChart:
    """A chart's visible title and its SVG (printed as the SVG)."""

    title: str
    svg: object

    def __html__(self) -> str:
        return str(self.svg)


def charts_for(presented: Presented) -> dict[str, ShownChart]:
    """The SVG charts of a presentation, drawn from the figures as shown (hidden stays hidden)."""

    def point(label, value) -> charts.Point:
        number = value if isinstance(value, int | float) else None
        return charts.Point(str(label), number, format_number(value))

    def ranked(points: list) -> list:
        return sorted(points, key=lambda p: (p.value is None, -(p.value or 0)))

    result: dict[str, object] = {}
    trend = presented.tables.get(f"reports_by_{presented.figures.granularity}")
    if trend is not None:
        points = [point(row.label, cells[0]) for row, cells in trend.rows]
        title = str(trend.table.title)
        result["trend"] = ShownChart(title, charts.line_chart("chart-trend", title, points))
    types = presented.tables.get("reports_by_violence_type")
    if types is not None:
        points = ranked([point(row.label, cells[0]) for row, cells in types.rows if cells[0] != 0])
        if points:
            title = str(types.table.title)
            result["violence_types"] = ShownChart(
                title, charts.hbar_chart("chart-types", title, points)
            )
    places = presented.tables.get("reports_by_place")
    if places is not None:
        points = ranked([point(g.label, cells[0]) for g, cells in places.groups])
        title = str(_l("Reports by region"))
        result["regions"] = ShownChart(title, charts.hbar_chart("chart-regions", title, points))
    delays = presented.tables.get("moderation_delays")
    measures = dict(
        (m.code, values) for m, values in presented.measures.get("moderation_delays", [])
    )
    if delays is not None and measures:
        codes = [row.code for row, _cells in delays.rows]
        series = [
            (str(_l("Median hours to decision")),
             [point(c, measures["median_decision_hours"].get(c)) for c in codes]),
            (str(_l("Median hours to publication")),
             [point(c, measures["median_publication_hours"].get(c)) for c in codes]),
        ]  # fmt: skip
        labels = [str(row.label) for row, _cells in delays.rows]
        title = str(_l("Moderation delays (median hours)"))
        result["delays"] = ShownChart(
            title, charts.grouped_bars("chart-delays", title, labels, series)
        )
    return result


def format_number(value: int | float | str | None) -> str:
    """Numbers in the UI locale ("1 234", "6,4" in French); marks and None unchanged."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return format_decimal(value, format="#,##0.0")
    return format_decimal(value, format="#,##0")


def format_value(value: int | float | str | None, unit: str | None = None) -> str:
    """A cell or figure in the UI locale; rates with their sign ("97,9 %" in French)."""
    if unit == "percent" and isinstance(value, int | float):
        # The locale's own pattern ("21.1%", "21,1 %"), with the decimal the rate has.
        rate = Decimal(str(value)) / 100  # 21.1 % exactly, not 21.100000000000002
        return format_percent(rate, locale=_locale(), decimal_quantization=False)
    return format_number(value)


def _locale():
    return get_locale() or "en"


# --- entry points for the views and the funder report -----------------------------------------


def dashboard(scope: Scope, viewer: Viewer, granularity: str = "month") -> Presented:
    """What the dashboard shows this viewer (suppressed unless it is her own organisation),
    its key figures compared with the previous period's (shown the same way)."""
    presented = present(compute(scope, granularity), viewer.screen_threshold)
    before = Scope(
        scope.period.previous(),
        department=scope.department,
        organisation_id=scope.organisation_id,
    )
    return compare(presented, present(compute(before), viewer.screen_threshold))


def for_export(scope: Scope, viewer: Viewer, granularity: str = "month") -> Presented:
    """Exports and PDFs are always suppressed, whoever asks."""
    return present(compute(scope, granularity), viewer.export_threshold)


def for_funder_report(scope: Scope) -> Presented:
    """A funder report's figures: programme-wide or one department's, always suppressed."""
    return present(compute(scope), threshold())


@dataclass
class TableView:
    """One table as lines of cells: the dashboard, the exports and the PDF all show this.

    Cells are raw: an int or float, a suppression mark (``<5``, ``s``) or None (no value).
    """

    key: str
    title: str
    headers: list[str]
    rows: list[list]
    total: list | None
    note: str | None = None
    withheld: bool = False
    suppressed: bool = True
    codes: list[str] = field(default_factory=list)
    label_columns: int = 1  # leading columns of text (the department table has its region)
    units: list[str | None] = field(default_factory=list)  # per column: None, hours, percent

    def texts(self, cells: list | None) -> list[str] | None:
        """A line as printed: labels as they are, numbers and rates in the UI locale."""
        if cells is None:
            return None
        units = self.units or [None] * len(cells)
        return [
            cell if index < self.label_columns else format_value(cell, units[index])
            for index, cell in enumerate(cells)
        ]


PLACE_VIEWS = {"reports_by_region": "groups", "reports_by_department": "rows"}


def table_views(presented: Presented, section: Section) -> list[TableView]:
    views = []
    for table in section.tables:
        if table.key == "reports_by_place":
            views += [table_view(presented, key) for key in PLACE_VIEWS]
        else:
            views.append(table_view(presented, table.key))
    return [v for v in views if v is not None]


def table_view(presented: Presented, key: str) -> TableView | None:
    """The lines of one table (``reports_by_region``/``_department`` split the place table)."""
    part = PLACE_VIEWS.get(key, "rows")
    shown = presented.tables.get("reports_by_place" if key in PLACE_VIEWS else key)
    if shown is None:
        return None
    table = shown.table
    measures = [] if key in PLACE_VIEWS else presented.measures.get(key, [])
    counts = table.counts_shown
    headers = [str(_l("Region") if part == "groups" else table.row_header)]
    headers += [str(c.label) for c in table.columns] if counts else []
    if key == "reports_by_department":
        headers.insert(1, str(_l("Region")))
    if table.row_totals and counts:
        headers.append(str(_l("Total")))
    headers += [str(m.label) for m, _values in measures]
    lines = shown.groups if part == "groups" else shown.rows
    if table.groups and key not in PLACE_VIEWS:
        lines = [*shown.rows, *shown.groups]  # the subtotals after the rows
    rows, codes = [], []
    for item, cells in lines:
        line = [str(item.label)]
        if key == "reports_by_department":
            line.append(str(_group_label(table, item.group)))
        line += list(cells) if counts else []
        line += [values.get(item.code) for _m, values in measures]
        rows.append(line)
        codes.append(item.code)
    total = None
    if shown.total is not None:
        total = [str(_l("Total"))] + ([""] if key == "reports_by_department" else [])
        total += list(shown.total) if counts else []
        total += [values.get("__total__") for _m, values in measures]
    titles = {
        "reports_by_region": _l("Reports by region"),
        "reports_by_department": _l("Reports by department"),
    }
    return TableView(
        key=key,
        title=str(titles.get(key, table.title)),
        headers=headers,
        rows=rows,
        total=total,
        note=str(table.note) if table.note else None,
        withheld=shown.withheld,
        suppressed=shown.suppressed,
        codes=codes,
        label_columns=2 if key == "reports_by_department" else 1,
        units=[None] * (len(headers) - len(measures)) + [m.unit for m, _values in measures],
    )


def _group_label(table: Table, code: str | None) -> object:
    return next((g.label for g in table.groups if g.code == code), code or "")
