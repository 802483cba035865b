"""What a computation gives: key figures, and sections of tables with their measures."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from backoffice.services.statistics.sources import NOT_GIVEN
from backoffice.services.statistics.viewers import Scope
from backoffice.services.suppression import Column, Row, Table

NOT_GIVEN_LABEL = _l("Not given")


@dataclass
class KeyFigure:
    code: str
    label: object
    value: int | float | None
    kind: str = "count"  # count, per_day, hours, percent
    base: int | None = None  # the count a derived figure rests on (hidden when it is small)
    # The table total it repeats, (table key, column index or "∑"): shown as that cell is
    # shown, so a figure and its table never disagree (a number here, "s" there).
    total_of: tuple[str, int | str] | None = None
    previous: int | float | None = None  # the same figure over the previous period


@dataclass
class Measure:
    """A figure per row that is not a count (a median, a rate), resting on count columns."""

    code: str
    label: object
    values: dict[str, float | None]  # row code -> value; "__total__" for the total row
    bases: tuple[str, ...]  # column codes (or "∑") whose cells must be shown for it to show
    unit: str = "hours"  # hours, percent


@dataclass
class Section:
    code: str
    title: object
    tables: list[Table] = field(default_factory=list)
    measures: dict[str, list[Measure]] = field(default_factory=dict)  # table key -> measures
    note: object | None = None


@dataclass
class Figures:
    scope: Scope
    granularity: str
    key_figures: list[KeyFigure]
    sections: list[Section]

    def table(self, key: str) -> Table | None:
        for section in self.sections:
            for table in section.tables:
                if table.key == key:
                    return table
        return None

    def section(self, code: str) -> Section | None:
        return next((s for s in self.sections if s.code == code), None)


def one_column(
    key: str,
    title: object,
    row_header: object,
    counts: dict[str, int],
    labels: dict[str, object],
    total: int,
    *,
    additive: bool = True,
    keep_zero: bool = True,
    column_label: object = None,
) -> Table:
    """A table of one count column over a vocabulary, with its total row."""
    codes = list(labels)
    codes += sorted(c for c in counts if c not in labels)
    rows = [
        Row(code, labels.get(code, NOT_GIVEN_LABEL if code == NOT_GIVEN else code),
            [counts.get(code, 0)])
        for code in codes
        if (keep_zero and code in labels) or counts.get(code, 0)
    ]  # fmt: skip
    return Table(
        key=key,
        title=title,
        row_header=row_header,
        columns=[Column("count", column_label or _l("Number"))],
        rows=rows,
        total=[total],
        additive=additive,
    )
