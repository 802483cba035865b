"""Small-cell suppression never lets a reader recover a count below the threshold.

The property tests build random tables, suppress them, then play the reader: from what is
published (shown counts, the table's own totals, ``<5`` meaning 1..4 and ``s`` meaning at
least 5) an independent solver looks for a second table that publishes the same thing with
a different value in a hidden small cell. It always finds one: no hidden count is ever
determined, neither by "total minus the other cells" nor by combining lines.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.services.suppression import (
    SECONDARY_MARK,
    Column,
    Group,
    Row,
    Table,
    check_threshold,
    protect,
    shown_count,
)

K = 5
VALUES = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20]


def _table(rows, total=True, row_totals=False, additive=True, groups=None, fixed=True, overlap=0):
    width = len(rows[0])
    table_rows = [Row(f"r{i}", f"row {i}", list(v)) for i, v in enumerate(rows)]
    table_groups = []
    if groups:
        for index, row in enumerate(table_rows):
            row.group = f"g{groups[index]}"
        for code in sorted({r.group for r in table_rows}):
            members = [r for r in table_rows if r.group == code]
            table_groups.append(
                Group(code, code, [sum(r.values[c] for r in members) for c in range(width)])
            )
    sums = [sum(r[c] for r in rows) for c in range(width)]
    if not additive:
        # Things mentioned by several rows: the total counts them once.
        sums = [max(max(r[c] for r in rows), s - overlap) for c, s in enumerate(sums)]
    return Table(
        key="t",
        title="t",
        row_header="row",
        columns=[Column(f"c{c}", f"c{c}") for c in range(width)],
        rows=table_rows,
        total=sums if total else None,
        row_totals=row_totals,
        additive=additive,
        groups=table_groups,
        fixed_total=fixed,
    )


def _published(shown):
    """Every published line as {cell: value or mark}, and the equations a reader knows.

    Cells are named independently of the module: ("row", i, j), ("group", g, j),
    ("total", j); column "sum" is the row total.
    """
    table = shown.table
    cells: dict[tuple, object] = {}
    truth: dict[tuple, int] = {}
    width = len(table.columns)
    columns = list(range(width)) + (["sum"] if table.row_totals else [])

    def record(prefix, name, published, values):
        full = list(values) + ([sum(values)] if table.row_totals else [])
        for column, mark, value in zip(columns, published, full, strict=True):
            cells[(prefix, name, column)] = mark
            truth[(prefix, name, column)] = value

    for row, published in shown.rows:
        record("row", row.code, published, row.values)
    for group, published in shown.groups:
        record("group", group.code, published, group.values)
    if shown.total is not None:
        record("total", "", shown.total, table.total)
    equations = []
    if table.row_totals:
        for prefix, name, _column in list(cells):
            if _column == "sum":
                equations.append(
                    [((prefix, name, c), 1) for c in range(width)] + [((prefix, name, "sum"), -1)]
                )
    for column in columns:
        rows = [("row", r.code, column) for r in table.rows]
        if table.groups:
            for group in table.groups:
                members = [("row", r.code, column) for r in table.rows if r.group == group.code]
                equations.append([(m, 1) for m in members] + [(("group", group.code, column), -1)])
            if table.total is not None:
                parts = [(("group", g.code, column), 1) for g in table.groups]
                equations.append([*parts, (("total", "", column), -1)])
        elif table.total is not None and table.additive:
            equations.append([(r, 1) for r in rows] + [(("total", "", column), -1)])
        elif table.total is not None:
            # Overlapping rows: a reader knows that their sum (unpublished) is at least the
            # total and that each row is at most the total.
            mentions = ("mentions", "", column)
            truth[mentions] = sum(truth[r] for r in rows)
            cells[mentions] = MENTIONS
            equations.append([(r, 1) for r in rows] + [(mentions, -1)])
    return cells, truth, equations


MENTIONS = "unpublished"


def _bounds(cell, cells, truth, table) -> tuple[int, int | None]:
    """What a reader knows of a hidden cell's range (None: no upper bound)."""
    mark = cells[cell]
    total = None if table.total is None or table.additive else truth[("total", "", cell[2])]
    if mark == MENTIONS:
        return total, None  # at least the total (its true value: stricter than a reader)
    low, high = (1, K - 1) if mark != SECONDARY_MARK else (K, None)
    shown_total = None if total is None else cells[("total", "", cell[2])]
    if isinstance(shown_total, int) and cell[0] == "row":
        high = shown_total if high is None else min(high, shown_total)
    return low, high


def _alternative_exists(cell, cells, truth, equations, table) -> bool:
    """Is there another table, consistent with everything published, where ``cell`` differs?"""
    hidden = [c for c, mark in cells.items() if isinstance(mark, str)]
    bound = sum(v for v in truth.values()) + K
    ranges = {c: _bounds(c, cells, truth, table) for c in hidden}
    low = {c: r[0] for c, r in ranges.items()}
    high = {c: bound if r[1] is None else r[1] for c, r in ranges.items()}
    lines = []
    for equation in equations:
        unknown = [(c, k) for c, k in equation if c in low]
        constant = sum(k * cells[c] for c, k in equation if c not in low)
        if unknown:
            lines.append((unknown, -constant))
        else:
            assert constant == 0, "the published figures themselves must add up"
    for value in range(1, K):
        if value != truth[cell] and _feasible({**low, cell: value}, {**high, cell: value}, lines):
            return True
    return False


def _feasible(low, high, lines) -> bool:
    low, high = dict(low), dict(high)
    changed = True
    while changed:
        changed = False
        for unknown, rhs in lines:
            for name, coef in unknown:
                others = [(n, c) for n, c in unknown if n != name]
                least = sum(c * (low[n] if c > 0 else high[n]) for n, c in others)
                most = sum(c * (high[n] if c > 0 else low[n]) for n, c in others)
                a, b = rhs - most, rhs - least
                if coef < 0:
                    a, b = -b, -a
                if a > low[name]:
                    low[name], changed = a, True
                if b < high[name]:
                    high[name], changed = b, True
                if low[name] > high[name]:
                    return False
    open_cells = [n for n in low if low[n] < high[n]]
    if not open_cells:
        return all(sum(c * low[n] for n, c in unknown) == rhs for unknown, rhs in lines)
    name = min(open_cells, key=lambda n: high[n] - low[n])
    for value in range(low[name], high[name] + 1):
        if _feasible({**low, name: value}, {**high, name: value}, lines):
            return True
    return False


def _assert_safe(table):
    shown = protect(table, K)
    cells, truth, equations = _published(shown)
    for cell, mark in cells.items():
        if isinstance(mark, int):
            assert not 0 < mark < K, f"{cell} shows {mark}"
    if shown.withheld:
        # Nothing but the totals published elsewhere too (key figures), shown as they are
        # there: a withheld table adds nothing to what they say.
        assert all(
            m in (SECONDARY_MARK, MENTIONS)
            or (cell[0] == "total" and m == shown_count(truth[cell], K))
            for cell, m in cells.items()
        )
        return shown
    for cell, mark in cells.items():
        if mark == f"<{K}":
            assert 0 < truth[cell] < K
            assert _alternative_exists(cell, cells, truth, equations, shown.table), (
                f"{cell} is determined"
            )
        elif mark == SECONDARY_MARK:
            assert truth[cell] >= K  # complements are never small counts nor zeros
    return shown


# --- examples ------------------------------------------------------------------------------


def test_a_small_count_hides_a_second_cell_so_the_total_cannot_reveal_it():
    shown = _assert_safe(_table([[3], [10], [12]]))
    marks = [cells[0] for _row, cells in shown.rows]
    assert marks == ["<5", "s", 12]  # the smallest cell that can hide it
    assert shown.total == [25]  # the total is a key figure: never hidden


def test_zeros_and_large_counts_are_shown_and_nothing_is_hidden_without_need():
    shown = protect(_table([[0], [7], [12]]), K)
    assert [cells[0] for _row, cells in shown.rows] == [0, 7, 12]
    assert not shown.has_hidden


def test_two_small_counts_in_a_line_protect_each_other():
    shown = _assert_safe(_table([[2], [3], [9]]))
    assert [cells[0] for _row, cells in shown.rows] == ["<5", "<5", 9]


def test_a_table_with_rows_columns_and_totals_is_protected_in_both_directions():
    shown = _assert_safe(_table([[3, 8, 6], [7, 9, 12], [10, 6, 11]], row_totals=True))
    hidden = sum(isinstance(c, str) for _row, cells in shown.rows for c in cells)
    assert hidden >= 4  # a small cell needs partners in its row and in its column


def test_a_hidden_department_is_protected_from_its_region_subtotal():
    # departments 1, 9 and 12 in one region, 6 in another; regions are published subtotals
    shown = _assert_safe(_table([[1], [9], [12], [6]], groups=[0, 0, 0, 1]))
    assert [cells[0] for _row, cells in shown.rows][:3].count("s") >= 1


def test_overlapping_rows_are_protected_among_themselves():
    # One report can mention several types: the rows add up to more than the total (here
    # 20 reports, 16 of them theft). A reader knows every report has at least one type, so
    # with theft shown the 4 would be forced: theft is hidden too.
    shown = _assert_safe(_table([[16], [4]], additive=False))
    assert [cells[0] for _row, cells in shown.rows] == ["s", "<5"]
    # Small rows among many reports need no complement: their sum is not published.
    shown = _assert_safe(_table([[9], [1], [1], [1]], additive=False, overlap=2))
    assert [cells[0] for _row, cells in shown.rows] == [9, "<5", "<5", "<5"]


def test_a_table_that_cannot_be_protected_is_withheld():
    # 16 = 5 + 5 + 1 + 5 and complements are at least 5: the 1 would be determined
    shown = _assert_safe(_table([[5], [5], [1], [5]]))
    assert shown.withheld
    assert [cells[0] for _row, cells in shown.rows] == ["s", "s", "s", "s"]


def test_a_withheld_table_shows_its_total_as_the_key_figures_do():
    """The total is a key figure too: "s" in the table and 16 on the first page would say
    two things about one number. A total published nowhere else stays hidden."""
    assert protect(_table([[5], [5], [1], [5]]), K).total == [16]
    assert protect(_table([[5], [5], [1], [5]], fixed=False), K).total == ["s"]


def test_without_a_threshold_every_figure_is_shown():
    shown = protect(_table([[1], [2]]), None)
    assert [cells[0] for _row, cells in shown.rows] == [1, 2] and not shown.suppressed


def test_the_threshold_is_configurable_but_cannot_protect_nothing():
    shown = protect(_table([[1], [2], [3], [9]]), 3)
    assert [cells[0] for _row, cells in shown.rows] == ["<3", "<3", 3, 9]
    assert shown_count(2, 3) == "<3" and shown_count(3, 3) == 3 and shown_count(0, 5) == 0
    with pytest.raises(ValueError):
        check_threshold(2)


def test_the_same_figures_always_give_the_same_table():
    rows = [[3, 8, 6], [7, 1, 12], [10, 6, 4]]
    first = protect(_table(rows, row_totals=True), K)
    again = protect(_table(rows, row_totals=True), K)
    assert [c for _r, c in first.rows] == [c for _r, c in again.rows]


# --- properties -----------------------------------------------------------------------------

cells_strategy = st.sampled_from(VALUES)


@st.composite
def tables(draw):
    width = draw(st.integers(1, 3))
    height = draw(st.integers(1, 5))
    rows = [[draw(cells_strategy) for _ in range(width)] for _ in range(height)]
    shape = draw(st.sampled_from(["plain", "row_totals", "grouped", "overlapping", "no_total"]))
    if shape == "grouped" and height >= 2:
        groups = [draw(st.integers(0, 1)) for _ in range(height)]
        return _table(rows, groups=groups, fixed=draw(st.booleans()))
    if shape == "overlapping":
        return _table(rows, additive=False, overlap=draw(st.integers(0, 6)))
    return _table(
        rows,
        total=shape != "no_total",
        row_totals=shape == "row_totals",
        fixed=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_no_hidden_small_count_can_be_recomputed(table):
    _assert_safe(table)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 15, 40]), min_size=1, max_size=30))
def test_long_series_are_protected(values):
    """A year of days or weeks: one column, many rows, one total."""
    _assert_safe(_table([[v] for v in values]))
