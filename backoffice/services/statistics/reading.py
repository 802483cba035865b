"""Reading source rows (the rollup, or rows computed live) in a few batched queries.

The days roll up into months, periods, regions (a SQL ``CASE`` on the department) and medians
(the lower median of whole hours, from histograms, with window functions), all in SQL. One
department's figures are its own rows (and, for subscribers, those who follow all of France);
the programme's, the ``ALL_DEPARTMENTS`` rows.
"""

from __future__ import annotations

from sqlalchemy import case, cast, func, select

from backoffice.extensions import db
from backoffice.services.statistics.periods import Period
from backoffice.services.statistics.rollup import Source
from backoffice.services.statistics.sources import (
    ALL_DEPARTMENTS,
    FOLLOWS_ALL,
    HISTOGRAMS,
    NOT_GIVEN,
    VALUE_DIMENSIONS,
)
from backoffice.services.statistics.sql import bucket_of, region_of_department, sql_string

MONTHLY_DIMENSIONS = ("subscribers_in", "alerts", *HISTOGRAMS)
STOCKS = {"subscribers": ("subscribers_in", "subscribers_out"),
          "subscriber_areas": ("subscriber_areas_in", "subscriber_areas_out")}  # fmt: skip
DELAY_LIMITS: list[tuple[str, float | None]] = [
    ("under_24h", 24.0),
    ("1_3_days", 72.0),
    ("3_7_days", 168.0),
    ("over_7_days", None),
]


def code_of(value) -> str:
    return NOT_GIVEN if value is None else str(value)


class Reader:
    """The figures of one period and one department (or the programme) from a ``Source``."""

    def __init__(self, source: Source, period: Period) -> None:
        self.rows = source.rows
        self.department = source.department
        self.period = period
        self._cache: dict[str, object] = {}

    @property
    def c(self):
        return self.rows.c

    def _in_period(self) -> list:
        return [self.c.day >= self.period.start, self.c.day <= self.period.end]

    def _whose(self):
        """The rows of the department read (or of the programme)."""
        if self.department == ALL_DEPARTMENTS:
            return self.c.department == ALL_DEPARTMENTS
        # FOLLOWS_ALL rows are subscribers' only: who follows all of France follows each one.
        return self.c.department.in_([self.department, FOLLOWS_ALL])

    def _once(self, key: str, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def sums(self, dimension: str) -> dict[str, int]:
        """Counts by value over the period."""

        def compute():
            c = self.c
            statement = (
                select(c.dimension, c.value, func.sum(c["count"]))
                .where(*self._in_period(), c.dimension.in_(VALUE_DIMENSIONS), self._whose())
                .group_by(c.dimension, c.value)
            )
            result: dict[str, dict[str, int]] = {d: {} for d in VALUE_DIMENSIONS}
            for name, value, count in db.session.execute(statement):
                result[name][code_of(value)] = int(count or 0)
            return result

        return self._once("sums", compute)[dimension]

    def monthly(self, dimension: str, value: str | None = None) -> dict[str, int]:
        """Counts by month of the period (all values together, except for alerts)."""

        def compute():
            c = self.c
            # Only alerts are split by value (published, retracted, expired).
            collapsed = case((c.dimension == "alerts", c.value), else_=sql_string(""))
            inner = (
                select(
                    c.dimension.label("d"),
                    bucket_of(c.day, "month").label("m"),
                    collapsed.label("v"),
                    c["count"],
                )
                .where(*self._in_period(), c.dimension.in_(MONTHLY_DIMENSIONS), self._whose())
                .subquery()
            )
            keys = [inner.c.d, inner.c.m, inner.c.v]
            statement = select(*keys, func.sum(inner.c["count"])).group_by(*keys)
            result: dict[tuple[str, str], dict[str, int]] = {}
            for name, month, found, count in db.session.execute(statement):
                result.setdefault((name, code_of(found)), {})[str(month)] = int(count or 0)
            return result

        return self._once("monthly", compute).get((dimension, value or NOT_GIVEN), {})

    def reports_by(self, what: str, granularity: str = "month") -> dict[str, int]:
        """Counted reports by department, region or period bucket."""
        c = self.c
        key = {
            "department": c.department,
            "region": region_of_department(c.department),
            "trend": bucket_of(c.day, granularity),
        }[what]
        if what == "trend" or self.department != ALL_DEPARTMENTS:
            whose = self._whose()
        else:
            whose = c.department != ALL_DEPARTMENTS  # every department's own rows
        inner = (
            select(key.label("k"), c["count"])
            .where(*self._in_period(), c.dimension == "reports", whose)
            .subquery()
        )
        statement = select(inner.c.k, func.sum(inner.c["count"])).group_by(inner.c.k)
        return {code_of(k): int(n or 0) for k, n in db.session.execute(statement)}

    def medians(self, dimension: str) -> dict[str, float | None]:
        """Lower medians (whole hours) of a histogram per month and overall (``__total__``)."""

        def compute():
            result: dict[str, dict[str, float | None]] = {d: {} for d in HISTOGRAMS}
            for per_month in (True, False):
                for name, month, value in self._medians(per_month):
                    result[name][str(month)] = None if value is None else float(value)
            return result

        return self._once("medians", compute)[dimension]

    def _medians(self, per_month: bool):
        c = self.c
        month = bucket_of(c.day, "month") if per_month else sql_string("__total__")
        bins = (
            select(
                c.dimension.label("d"),
                month.label("m"),
                cast(c.value, db.Integer).label("h"),
                c["count"].label("n"),
            )
            .where(*self._in_period(), c.dimension.in_(HISTOGRAMS), self._whose())
            .subquery()
        )
        keys = [bins.c.d, bins.c.m, bins.c.h]
        grouped = select(*keys, func.sum(bins.c.n).label("n")).group_by(*keys).subquery()
        partition = [grouped.c.d, grouped.c.m]
        running = select(
            grouped.c.d,
            grouped.c.m,
            grouped.c.h,
            func.sum(grouped.c.n)
            .over(partition_by=partition, order_by=grouped.c.h)
            .label("cumulative"),
            func.sum(grouped.c.n).over(partition_by=partition).label("total"),
        ).subquery()
        statement = (
            select(running.c.d, running.c.m, func.min(running.c.h))
            .where(running.c.cumulative * 2 >= running.c.total)
            .group_by(running.c.d, running.c.m)
        )
        return db.session.execute(statement).all()

    def delay_buckets(self, dimension: str) -> dict[str, int]:
        """Histogram counts in the ``DELAY_LIMITS`` bands."""

        def compute():
            c = self.c
            hours = cast(c.value, db.Integer)
            whens = [(hours < limit, sql_string(code)) for code, limit in DELAY_LIMITS[:-1]]
            band = case(*whens, else_=sql_string(DELAY_LIMITS[-1][0]))
            inner = (
                select(c.dimension.label("d"), band.label("b"), c["count"])
                .where(*self._in_period(), c.dimension.in_(HISTOGRAMS), self._whose())
                .subquery()
            )
            keys = [inner.c.d, inner.c.b]
            result: dict[str, dict[str, int]] = {d: {} for d in HISTOGRAMS}
            for name, found, count in db.session.execute(
                select(*keys, func.sum(inner.c["count"])).group_by(*keys)
            ):
                result[name][str(found)] = int(count or 0)
            return result

        return dict(self._once("buckets", compute)[dimension])

    def stock(self, name: str) -> dict[str, int]:
        """Arrivals minus departures of every day up to the end of the period, by value."""

        def compute():
            c = self.c
            pairs = {d: stock for stock, dims in STOCKS.items() for d in dims}
            arrivals = [dims[0] for dims in STOCKS.values()]
            signed = case((c.dimension.in_(arrivals), c["count"]), else_=-c["count"])
            which = case(
                *[(c.dimension.in_(dims), sql_string(stock)) for stock, dims in STOCKS.items()]
            )
            inner = (
                select(which.label("s"), c.value.label("v"), signed.label("n"))
                .where(c.day <= self.period.end, c.dimension.in_(list(pairs)))
                .where(self._whose())
                .subquery()
            )
            keys = [inner.c.s, inner.c.v]
            result: dict[str, dict[str, int]] = {stock: {} for stock in STOCKS}
            for stock, value, count in db.session.execute(
                select(*keys, func.sum(inner.c.n)).group_by(*keys)
            ):
                if count:
                    result[str(stock)][code_of(value)] = int(count)
            return result

        return self._once("stocks", compute)[name]
