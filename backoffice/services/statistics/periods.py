"""Periods and groupings: what a user may ask the statistics for, checked once for every path
(the dashboard, its exports, the funder report, the command and the schedule)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

GRANULARITIES: dict[str, object] = {
    "day": _l("Day"),
    "week": _l("Week"),
    "month": _l("Month"),
    "year": _l("Year"),
}
MAX_PERIOD_DAYS = 3700  # ten years: a longer span is a typing mistake
MAX_DAILY_DAYS = 366  # a trend by day over longer periods is unreadable (and heavy)


class PeriodError(ValueError):
    """A period or filter the user typed that cannot be used; ``message`` is for her."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(dt.date(year, month, 1), month_end(year, month))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        return cls(dt.date(year, first, 1), month_end(year, first + 2))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Period:
        """From two ISO dates typed in a form or a URL; ``PeriodError`` when unusable."""
        try:
            first = dt.date.fromisoformat((start or "").strip())
            last = dt.date.fromisoformat((end or "").strip())
        except ValueError:
            raise PeriodError(_l("Give the period as two dates (YYYY-MM-DD).")) from None
        period = cls(first, last)
        period.check()
        return period

    @classmethod
    def from_code(cls, code: str) -> Period:
        """``2025``, ``2025-Q2`` or ``2025-03``; ``PeriodError`` otherwise."""
        text = (code or "").strip().upper()
        try:
            if len(text) == 4 and text.isdigit():
                period = cls.year(int(text))
            elif len(text) == 7 and text[4:6] == "-Q" and text[6] in "1234":
                period = cls.quarter(int(text[:4]), int(text[6]))
            elif len(text) == 7 and text[4] == "-":
                period = cls.month(int(text[:4]), int(text[5:]))
            else:
                raise ValueError(text)
        except ValueError:
            raise PeriodError(_l("Unknown period: use 2025, 2025-Q2 or 2025-03.")) from None
        period.check()
        return period

    @property
    def code(self) -> str | None:
        kind = self.kind
        if kind == "year":
            return str(self.start.year)
        if kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if kind == "month":
            return self.start.strftime("%Y-%m")
        return None

    def check(self) -> None:
        if self.end < self.start:
            raise PeriodError(_l("The period ends before it starts."))
        if self.days > MAX_PERIOD_DAYS:
            raise PeriodError(_l("The period is too long (ten years at most)."))
        if self.start.year < 1990 or self.end.year > 2200:
            raise PeriodError(_l("Give dates between 1990 and 2200."))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same kind just before (the month, quarter or year before; else
        as many days), to compare with."""
        kind = self.kind
        if kind in ("month", "quarter", "year"):
            months = {"month": 1, "quarter": 3, "year": 12}[kind]
            end = self.start - dt.timedelta(days=1)
            first = end.replace(day=1)
            for _step in range(months - 1):
                first = (first - dt.timedelta(days=1)).replace(day=1)
            return Period(first, end)
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    @property
    def kind(self) -> str:
        if self.start.day != 1 or self.end != month_end(self.end.year, self.end.month):
            return "custom"
        months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
        if months == 1:
            return "month"
        if months == 3 and self.start.month % 3 == 1:
            return "quarter"
        if months == 12 and self.start.month == 1:
            return "year"
        return "custom"

    @property
    def starts_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def ends_before(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    def label(self) -> str:
        """ "March 2025", "Q1 2025", "2025" or "1 Mar 2025 – 10 Apr 2025", in the UI locale."""
        kind = self.kind
        if kind == "year":
            return str(self.start.year)
        if kind == "quarter":
            return str(
                _l("Q%(quarter)s %(year)s", quarter=(self.start.month - 1) // 3 + 1,
                   year=self.start.year)
            )  # fmt: skip
        if kind == "month":
            return format_date(self.start, "LLLL y")
        return f"{format_date(self.start, 'medium')} – {format_date(self.end, 'medium')}"


def check_grouping(period: Period, granularity: str) -> None:
    """A trend grouping the period can use; ``PeriodError`` otherwise."""
    if granularity not in GRANULARITIES:
        raise PeriodError(_l("Unknown grouping."))
    period.check()
    if granularity == "day" and period.days > MAX_DAILY_DAYS:
        raise PeriodError(_l("Group by week or month for a period longer than a year."))


def quick_periods(today: dt.date) -> list[tuple[object, Period]]:
    """The dashboard's shortcuts: this and last month, quarter and year."""
    quarter = (today.month - 1) // 3 + 1
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    last_quarter = Period.quarter(today.year, quarter).start - dt.timedelta(days=1)
    return [
        (_l("This month"), Period(today.replace(day=1), today)),
        (_l("Last month"), Period.month(last_month.year, last_month.month)),
        (_l("This quarter"), Period(Period.quarter(today.year, quarter).start, today)),
        (_l("Last quarter"),
         Period.quarter(last_quarter.year, (last_quarter.month - 1) // 3 + 1)),
        (_l("This year"), Period(dt.date(today.year, 1, 1), today)),
        (_l("Last year"), Period.year(today.year - 1)),
    ]  # fmt: skip


def month_end(year: int, month: int) -> dt.date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def buckets(period: Period, granularity: str) -> list[str]:
    """Every bucket label of the period, so that empty days or months show as zeros."""
    labels: list[str] = []
    day = period.start
    if granularity == "week":
        day -= dt.timedelta(days=day.weekday())
    while day <= period.end:
        label = {
            "day": day.isoformat(),
            "week": day.isoformat(),
            "month": day.strftime("%Y-%m"),
            "year": day.strftime("%Y"),
        }[granularity]
        if not labels or labels[-1] != label:
            labels.append(label)
        day += dt.timedelta(days=7 if granularity == "week" else 1)
    return labels


def month_buckets(period: Period) -> list[str]:
    return buckets(period, "month")


def bucket_label(bucket: str, granularity: str) -> str:
    """A bucket's label in the UI locale ("Mar 2025", "Week of 3/3/25"…)."""
    if granularity == "month":
        return format_date(dt.date.fromisoformat(bucket + "-01"), "LLL y")
    if granularity == "week":
        return str(_l("Week of %(date)s", date=format_date(dt.date.fromisoformat(bucket), "short")))
    if granularity == "day":
        return format_date(dt.date.fromisoformat(bucket), "short")
    return bucket


def scheduled_periods(today: dt.date) -> list[Period]:
    """What the monthly schedule builds: last month's report, and last year's in January."""
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    periods = [Period.month(last_month_end.year, last_month_end.month)]
    if today.month == 1:
        periods.append(Period.year(today.year - 1))
    return periods
