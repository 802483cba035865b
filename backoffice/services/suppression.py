"""Small-cell suppression: no published count lets anyone single out a person.

The rule (SECURITY_NOTES.md, k = ``STATS_SUPPRESSION_THRESHOLD``, 5 by default)
-------------------------------------------------------------------------------
* **Primary suppression.** Every count from 1 to k-1 — a cell, a row or column total, the
  grand total — is shown as ``<k`` ("<5"). Zeros are shown: a zero reveals nobody.
* **Complementary suppression.** A hidden cell must not be recomputable from what is shown:
  "total minus the other cells" (one line), nor by combining rows, columns and totals (several
  lines), nor by using what a reader knows about hidden cells (a ``<5`` cell lies in 1..k-1;
  a complementary cell, shown as ``s``, is at least k because zeros and small counts are never
  chosen as complements). Further cells are hidden until that holds; they are shown as ``s``.

The algorithm
-------------
A table's published relations are linear: each line (a row with its total, a column with its
total, the region subtotal of its departments...) says ``sum(coef * cell) = 0``. Every cell
sits in at most two lines, and the lines can be signed so that each cell becomes an arc of a
directed graph between its two lines (a cell in one line only joins that line to a free node
``F``). A change of the hidden cells that keeps every published total is then a circulation
in that graph; hidden cell ``p`` cannot be recomputed exactly if and only if some feasible
circulation moves it, and by the conformal decomposition of circulations that happens if and
only if a *simple cycle* of hidden cells passes through ``p`` in which every other cell may
move the needed way (a ``<k`` cell may not go below 1 nor above k-1; a complementary cell not
below k). ``is_protected`` checks this with one graph search per hidden small cell.

Rows that overlap (a report mentions several violence types) are not additive. A reader
knows each such row is at most the total and that their sum is at least the total: the sum
is an unpublished unknown bounded below by the total (a "slack" cell, always hidden, never
shown), and the rows are capped by the total when it is shown.

``suppress`` hides the small cells, then protects them one by one (smallest first): while a
small cell is unprotected, it hides the cheapest visible cell sharing one of its lines that
protects it (interior cells before totals, then the smallest count of at least k), or, when
no single cell is enough, the cheapest one of its lines, and tries again. Hiding more cells
only adds arcs, so a protected cell stays protected and one pass is enough. Totals that are
published elsewhere too (the grand total is a key figure) are ``fixed``: never used as a
complement. When nothing is left to hide and a small cell is still exposed, the whole table is
withheld. The greedy choice is not the smallest possible suppression, but it is deterministic
(the same figures always give the same table) and always safe.

What it does not cover: differences between two overlapping publications (two periods one day
apart). Every export and report is written to the audit trail with its parameters.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 5
MIN_THRESHOLD = 3  # with k = 2, "<2" would mean exactly 1
SECONDARY_MARK = "s"
FREE = ("__free__",)  # the free node: one end of cells that sit in a single line

Key = Hashable


def primary_mark(threshold: int) -> str:
    return f"<{threshold}"


def check_threshold(threshold: int) -> int:
    """The configured threshold, refused when it would not protect anything."""
    threshold = int(threshold)
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"STATS_SUPPRESSION_THRESHOLD must be at least {MIN_THRESHOLD}")
    return threshold


def is_small(value: int | None, threshold: int) -> bool:
    return value is not None and 0 < value < threshold


# --- the linear structure of a table ----------------------------------------------------------


@dataclass
class Grid:
    """Cells (non-negative counts) and the published relations between them.

    ``add_line([(key, +1), (key2, +1), (total, -1)])`` declares ``a + b - total = 0``.
    ``fixed`` cells are published elsewhere as well: never hidden as complements.
    ``cost`` orders complement candidates (lower first); interior cells default to 0, totals
    should get 1. ``caps`` are upper bounds a reader knows (a row of overlapping items is at
    most the total). ``slack`` cells are unpublished unknowns a reader only knows a lower
    bound of (the sum of overlapping rows is at least the total): never shown, never small.
    """

    values: dict[Key, int] = field(default_factory=dict)
    lines: list[tuple[tuple[Key, int], ...]] = field(default_factory=list)
    fixed: set[Key] = field(default_factory=set)
    cost: dict[Key, int] = field(default_factory=dict)
    caps: dict[Key, int] = field(default_factory=dict)
    slack: dict[Key, int] = field(default_factory=dict)

    def add_cell(
        self, key: Key, value: int, *, fixed: bool = False, cost: int = 0, cap: int | None = None
    ) -> None:
        if value is None or int(value) < 0:
            raise ValueError(f"cell {key!r}: counts are non-negative integers")
        self.values[key] = int(value)
        self.cost[key] = cost
        if fixed:
            self.fixed.add(key)
        if cap is not None:
            self.caps[key] = int(cap)

    def add_slack(self, key: Key, value: int, lower: int) -> None:
        self.values[key] = int(value)
        self.slack[key] = int(lower)

    def add_line(self, terms: Iterable[tuple[Key, int]]) -> None:
        terms = tuple((key, int(coef)) for key, coef in terms if key in self.values)
        if len(terms) < 2:
            return
        if sum(coef * self.values[key] for key, coef in terms) != 0:
            raise ValueError(f"line {terms!r} does not add up")
        self.lines.append(terms)


@dataclass(frozen=True)
class Suppression:
    primary: frozenset
    secondary: frozenset
    withheld: bool = False

    @property
    def hidden(self) -> frozenset:
        return self.primary | self.secondary

    def mark(self, key: Key, threshold: int) -> str | None:
        """``<k`` or ``s`` for a hidden cell, None for a shown one."""
        if self.withheld or key in self.secondary:
            # A withheld table is not published at all: one mark, no ranges to reason on.
            return SECONDARY_MARK
        if key in self.primary:
            return primary_mark(threshold)
        return None


class _Graph:
    """Lines as nodes, cells as arcs; see the module docstring for the construction."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.ends: dict[Key, tuple[object, object, int]] = {}
        memberships: dict[Key, list[tuple[int, int]]] = {key: [] for key in grid.values}
        for index, terms in enumerate(grid.lines):
            for key, coef in terms:
                memberships[key].append((index, coef))
        sign = self._sign_lines(memberships)
        for key, lines in memberships.items():
            if len(lines) > 2:
                raise ValueError(f"cell {key!r} sits in more than two lines")
            if not lines:
                self.ends[key] = (FREE, FREE, 1)
                continue
            first, coef = lines[0]
            other = lines[1][0] if len(lines) == 2 else FREE
            # sigma: the direction (first -> other) a growth of this cell pushes its flow.
            self.ends[key] = (first, other, sign[first] * coef)

    def _sign_lines(self, memberships: dict[Key, list[tuple[int, int]]]) -> dict[int, int]:
        """Sign each line so that every two-line cell enters one and leaves the other."""
        neighbours: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(self.grid.lines))}
        for lines in memberships.values():
            if len(lines) == 2:
                (a, ca), (b, cb) = lines
                neighbours[a].append((b, -ca * cb))
                neighbours[b].append((a, -ca * cb))
        sign: dict[int, int] = {}
        for start in neighbours:
            if start in sign:
                continue
            sign[start] = 1
            queue = deque([start])
            while queue:
                line = queue.popleft()
                for other, product in neighbours[line]:
                    wanted = sign[line] * product
                    if other not in sign:
                        sign[other] = wanted
                        queue.append(other)
                    elif sign[other] != wanted:
                        raise ValueError("table relations are not a signed network")
        return sign

    def arcs(self, key: Key, up: bool) -> tuple[object, object]:
        """The arc (tail, head) a growth (``up``) or a fall of ``key`` travels."""
        first, other, sigma = self.ends[key]
        forward = (sigma > 0) == up
        return (first, other) if forward else (other, first)


def _movable(grid: Grid, key: Key, primary, threshold: int) -> tuple[bool, bool]:
    """Whether a hidden cell may grow and fall, given what a reader knows of its range."""
    value = grid.values[key]
    cap = grid.caps.get(key)
    if key in grid.slack:
        return cap is None or value < cap, value > grid.slack[key]
    if key in primary:
        top = threshold - 1 if cap is None else min(threshold - 1, cap)
        return value < top, value > 1
    return cap is None or value < cap, value > threshold


def is_protected(
    grid: Grid, key: Key, primary: set | frozenset, hidden: set | frozenset, threshold: int
) -> bool:
    """True when the published table leaves at least two values possible for ``key``."""
    graph = _Graph(grid)
    return _protected(graph, key, primary, hidden, threshold)


def _protected(graph: _Graph, key: Key, primary, hidden, threshold: int) -> bool:
    grid = graph.grid
    adjacency: dict[object, list[object]] = {}
    for other in hidden:
        if other == key:
            continue
        grows, falls = _movable(grid, other, primary, threshold)
        for up, allowed in ((True, grows), (False, falls)):
            if allowed:
                tail, head = graph.arcs(other, up)
                adjacency.setdefault(tail, []).append(head)
    grows, falls = _movable(grid, key, primary, threshold)
    for up, allowed in ((True, grows), (False, falls)):
        if not allowed:
            continue
        tail, head = graph.arcs(key, up)
        if tail == head or _reaches(adjacency, head, tail):
            return True
    return False


def _reaches(adjacency: dict[object, list[object]], start: object, goal: object) -> bool:
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            return True
        for nxt in adjacency.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False


def suppress(grid: Grid, threshold: int = DEFAULT_THRESHOLD) -> Suppression:
    """Which cells to hide (see the module docstring)."""
    threshold = check_threshold(threshold)
    primary = frozenset(
        k for k, v in grid.values.items() if is_small(v, threshold) and k not in grid.slack
    )
    if not primary:
        return Suppression(primary, frozenset())
    graph = _Graph(grid)
    hidden = set(primary) | set(grid.slack)
    lines_of: dict[Key, list[int]] = {k: [] for k in grid.values}
    for index, terms in enumerate(grid.lines):
        for k, _coef in terms:
            lines_of[k].append(index)
    for key in sorted(primary, key=lambda k: (grid.values[k], repr(k))):
        while not _protected(graph, key, primary, hidden, threshold):
            chosen = _complement(graph, key, primary, hidden, threshold, lines_of)
            if chosen is None:
                shown = frozenset(grid.values) - primary - set(grid.slack)
                return Suppression(primary, shown, withheld=True)
            hidden.add(chosen)
    return Suppression(primary, frozenset(hidden - primary - set(grid.slack)))


def _candidates(grid: Grid, keys: Iterable[Key], hidden: set, threshold: int) -> list[Key]:
    found = {
        k
        for k in keys
        if k not in hidden
        and k not in grid.fixed
        and k not in grid.slack
        and grid.values[k] >= threshold
    }
    return sorted(found, key=lambda k: (grid.cost.get(k, 0), grid.values[k], repr(k)))


def _complement(graph, key, primary, hidden, threshold, lines_of) -> Key | None:
    grid = graph.grid
    near = [k for line in lines_of[key] for k, _coef in grid.lines[line]]
    candidates = _candidates(grid, near, hidden, threshold)
    for candidate in candidates:
        if _protected(graph, key, primary, hidden | {candidate}, threshold):
            return candidate
    if candidates:
        return candidates[0]
    # Its own lines are spent: widen to the lines of every hidden cell, then to the table.
    wider = [k for h in hidden for line in lines_of[h] for k, _coef in grid.lines[line]]
    candidates = _candidates(grid, wider, hidden, threshold) or _candidates(
        grid, grid.values, hidden, threshold
    )
    return candidates[0] if candidates else None


# --- tables of counts ----------------------------------------------------------------------------


@dataclass
class Column:
    code: str
    label: object


@dataclass
class Row:
    code: str
    label: object
    values: list[int]
    group: str | None = None  # e.g. the region of a department row


@dataclass
class Group:
    """A published subtotal of some rows (a region of departments).

    ``fixed``: the subtotal is published elsewhere too (never a complement).
    """

    code: str
    label: object
    values: list[int]
    fixed: bool = False


@dataclass
class Table:
    """A table of counts as computed, before anything is hidden.

    * ``total`` is the column-total row (None when the table has none); ``row_totals`` adds a
      total column (the sum of the row).
    * ``additive`` is False when a row's items overlap (a report has several violence types):
      the total row then counts things, not the sum of the rows. What a reader knows is that
      each row is at most the total and that their sum is at least the total: the sum is an
      unpublished unknown bounded below by the total, the rows are capped by it.
    * ``groups`` are subtotals of rows published too (regions), each row naming its group.
    * ``fixed_total``: the totals are published elsewhere as key figures, so they are never
      used as complements: the grand total of a table with a total column, else every cell of
      the total row (each column's total: "alerts published", "alerts retracted"...).
    """

    key: str
    title: object
    row_header: object
    columns: list[Column]
    rows: list[Row]
    total: list[int] | None = None
    row_totals: bool = False
    additive: bool = True
    groups: list[Group] = field(default_factory=list)
    fixed_total: bool = True
    note: object | None = None
    row_label_is_code: bool = False
    # False: the counts only decide which measures (medians) may be shown; they are not shown.
    counts_shown: bool = True
    # Every cell of the total row is published elsewhere too (another table has the same
    # column totals), even with a total column: none may be a complement.
    fixed_total_row: bool = False

    def column_index(self, code: str) -> int:
        return [c.code for c in self.columns].index(code)


def table_grid(table: Table, threshold: int = DEFAULT_THRESHOLD) -> Grid:
    """The table's cells and published relations, keyed ``(row, column)``.

    Rows are ``("r", code)``, groups ``("g", code)``, the total row ``("t",)``; the total
    column is ``"∑"``.
    """
    if table.groups and table.row_totals:
        raise ValueError("a table with group subtotals has no total column")
    grid = Grid()
    width = len(table.columns)
    columns = list(range(width)) + (["∑"] if table.row_totals else [])

    # Overlapping rows: each is at most its column's total (a report counts once per type),
    # which a reader knows when that total is shown (not a small count).
    caps = None
    if not table.additive and table.total is not None:
        caps = [t if t >= threshold else None for t in table.total]

    def add_row(row_key, values, cost, fixed=False, capped=False):
        full = list(values) + ([sum(values)] if table.row_totals else [])
        for index, (column, value) in enumerate(zip(columns, full, strict=True)):
            is_total_column = column == "∑"
            # With a total column only the grand total is published elsewhere (unless the
            # table says its whole total row is).
            pinned = fixed and (is_total_column or not table.row_totals or table.fixed_total_row)
            cap = caps[index] if capped and caps is not None and not is_total_column else None
            grid.add_cell(
                (row_key, column), value, fixed=pinned, cost=cost + is_total_column, cap=cap
            )
        if table.row_totals:
            grid.add_line([*(((row_key, c), 1) for c in range(width)), ((row_key, "∑"), -1)])

    for row in table.rows:
        add_row(("r", row.code), row.values, cost=0, capped=True)
    for group in table.groups:
        add_row(("g", group.code), group.values, cost=1, fixed=group.fixed)
    if table.total is not None:
        add_row(("t",), table.total, cost=2, fixed=table.fixed_total)
    for column in columns:
        _column_lines(grid, table, column)
    return grid


def _column_lines(grid: Grid, table: Table, column) -> None:
    rows = [("r", row.code) for row in table.rows]
    if table.groups:
        for group in table.groups:
            members = [("r", r.code) for r in table.rows if r.group == group.code]
            grid.add_line([*(((m, column), 1) for m in members), ((("g", group.code), column), -1)])
        if table.total is not None:
            grid.add_line(
                [*(((("g", g.code), column), 1) for g in table.groups), ((("t",), column), -1)]
            )
        return
    if table.total is None:
        return
    if table.additive:
        grid.add_line([*(((r, column), 1) for r in rows), ((("t",), column), -1)])
        return
    # Overlapping rows: their sum is unpublished; a reader knows it is at least the total.
    mentions = sum(grid.values[(r, column)] for r in rows)
    grid.add_slack((("m",), column), mentions, lower=grid.values[(("t",), column)])
    grid.add_line([*(((r, column), 1) for r in rows), ((("m",), column), -1)])


@dataclass
class ShownTable:
    """A table ready to show: each cell an int, or a mark when hidden."""

    table: Table
    rows: list[tuple[Row, list[int | str]]]
    groups: list[tuple[Group, list[int | str]]]
    total: list[int | str] | None
    suppressed: bool  # whether suppression was applied (False: a social worker's own view)
    withheld: bool = False

    @property
    def key(self) -> str:
        return self.table.key

    @property
    def has_hidden(self) -> bool:
        cells = [c for _r, cs in self.rows for c in cs] + (self.total or [])
        cells += [c for _g, cs in self.groups for c in cs]
        return any(isinstance(c, str) for c in cells)


def protect(table: Table, threshold: int | None) -> ShownTable:
    """Hide what must be hidden (``threshold=None``: show every figure, nothing hidden)."""
    if threshold is None:
        return _shown(table, lambda key, value: value, suppressed=False, withheld=False)
    grid = table_grid(table, threshold)
    result = suppress(grid, threshold)

    def cell(key, value):
        if result.withheld and key in grid.fixed:
            # Published elsewhere (a key figure, another table): shown here as it is there,
            # so that a total is never a number on one page and "s" on another.
            return shown_count(value, threshold)
        mark = result.mark(key, threshold)
        return value if mark is None else mark

    return _shown(table, cell, suppressed=True, withheld=result.withheld)


def _shown(table: Table, cell, *, suppressed: bool, withheld: bool) -> ShownTable:
    def line(row_key, values):
        full = list(values) + ([sum(values)] if table.row_totals else [])
        columns = list(range(len(table.columns))) + (["∑"] if table.row_totals else [])
        return [cell((row_key, c), v) for c, v in zip(columns, full, strict=True)]

    return ShownTable(
        table=table,
        rows=[(row, line(("r", row.code), row.values)) for row in table.rows],
        groups=[(g, line(("g", g.code), g.values)) for g in table.groups],
        total=line(("t",), table.total) if table.total is not None else None,
        suppressed=suppressed,
        withheld=withheld,
    )


def shown_count(value: int, threshold: int | None) -> int | str:
    """A single published count (a key figure): ``<k`` when small and suppression applies."""
    if threshold is not None and is_small(value, threshold):
        return primary_mark(threshold)
    return value
