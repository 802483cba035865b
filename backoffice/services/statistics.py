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
* **Scope**: Coordinators, Moderators and Admins see every organisation, aggregated, with
  small-cell suppression (``services.suppression``). A social worker sees her own
  organisation's figures (reports it filed or that were routed to it, its cases and
  referrals, its subscribers and outreach rounds); on screen as they are, and suppressed in
  every export. Alerts and identifier checks belong to no organisation: programme-wide
  viewers only.

How it is computed
------------------
Everything is counted in SQL. ``_source_selects`` is the one definition of the report, alert,
case, referral and subscriber figures: rows of (day, department, dimension, value, count),
one ``GROUP BY`` per dimension over the scoped reports (read once, a materialised CTE), the
moderation events joined once, violence types unnested with ``json_each`` (SQLite) or
``json_array_elements_text`` (PostgreSQL).

* Programme-wide figures read the **daily rollup** (``StatisticsDaily``) filled with those
  rows: a year over a million reports is then about a hundred thousand small rows, read
  from one covering index. Before each read,
  ``refresh_rollup`` recomputes the days of every report, alert, case, referral or
  subscriber changed since the last refresh (their ``updated_at``, less a margin for
  transactions still open), under a lock; the nightly ``statistics_rebuild`` job rebuilds it
  all (it also catches deleted rows, and the old day of a row whose date was edited).
* A department or an organisation is computed **live**: the same SQL, restricted to the
  scope, into a temporary table, then the same reading queries.

The reading queries (``_Reader``) roll the days up into months, periods, regions (a SQL
``CASE`` on the department) and medians (lower median of whole hours, from histograms, with
window functions). Python only fills empty buckets, lays out tables and applies the
suppression. Figures linked across tables are published so that one suppression covers the
relation: the moderation outcomes are grouped into "counted" (whose subtotal is the reports
received) and "not counted"; a case's status and outcome form one table (an outcome exists
once closed); the delay table shows medians only (its counts would link to the outcomes);
the checks by month and by kind pin their shared column totals.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from backoffice.extensions import db
from backoffice.models.alert import (
    Alert,
    AlertDepartment,
    AlertReport,
    IdentifierCheck,
)
from backoffice.models.report import Report, ReportEvent
from backoffice.services import suppression
from backoffice.services.suppression import Column, Group, Row, Table
from backoffice.services.vocabulary import (
    CHANNELS,
    DEPARTMENTS,
    IDENTIFIER_KINDS,
    REGIONS,
    REPORTER_RELATIONS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
)

log = logging.getLogger(__name__)

GRANULARITIES: dict[str, object] = {
    "day": _l("Day"),
    "week": _l("Week"),
    "month": _l("Month"),
    "year": _l("Year"),
}
MAX_PERIOD_DAYS = 3700  # ten years: a longer span is a typing mistake
MAX_DAILY_DAYS = 366  # a trend by day over longer periods is unreadable (and heavy)
DECISION_ACTIONS = ("approve", "reject", "merge", "record_only")
NOT_COUNTED_STATUSES = ("merged", "rejected")
NOT_GIVEN = ""
NOT_GIVEN_LABEL = _l("Not given")
# Moderation outcome of a report, from its current status.
OUTCOMES: dict[str, object] = {
    "alert": _l("Published or approved for an alert"),
    "recorded": _l("Recorded only (no alert)"),
    "rejected": _l("Rejected"),
    "merged": _l("Merged into another report"),
    "pending": _l("Awaiting a decision"),
}
OUTCOME_OF_STATUS = {
    "approved": "alert",
    "published": "alert",
    "archived": "alert",
    "recorded": "recorded",
    "rejected": "rejected",
    "merged": "merged",
}
DELAY_BUCKETS: list[tuple[str, object, float | None]] = [
    ("under_24h", _l("Within 24 hours"), 24.0),
    ("1_3_days", _l("1 to 3 days"), 72.0),
    ("3_7_days", _l("3 to 7 days"), 168.0),
    ("over_7_days", _l("More than 7 days"), None),
]
NOT_YET = "not_yet"
STILL_OPEN = "open"


class PeriodError(ValueError):
    """A period or filter the user typed that cannot be used; ``message`` is for her."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


# --- periods, scope and who sees what -------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(dt.date(year, month, 1), _month_end(year, month))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        return cls(dt.date(year, first, 1), _month_end(year, first + 2))

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

    @property
    def kind(self) -> str:
        if self.start.day != 1 or self.end != _month_end(self.end.year, self.end.month):
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

    def previous(self) -> Period:
        """The period of the same length just before (for the dashboard's quick links)."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))


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


def _month_end(year: int, month: int) -> dt.date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    period: Period
    department: str | None = None
    organisation_id: int | None = None  # None: every organisation

    def __post_init__(self) -> None:
        if self.department is not None and self.department not in DEPARTMENTS:
            raise PeriodError(_l("Unknown department."))


@dataclass(frozen=True)
class Viewer:
    """What a user's statistics are made of (see the module docstring)."""

    organisation_id: int | None
    screen_threshold: int | None  # None: figures shown as they are
    export_threshold: int

    @property
    def programme_wide(self) -> bool:
        return self.organisation_id is None


def threshold() -> int:
    """The small-cell threshold k; a setting too low to protect anyone is raised, loudly."""
    configured = suppression.DEFAULT_THRESHOLD
    if has_app_context():
        configured = current_app.config.get("STATS_SUPPRESSION_THRESHOLD", configured)
    try:
        return suppression.check_threshold(configured)
    except (TypeError, ValueError):
        log.error(
            "STATS_SUPPRESSION_THRESHOLD=%r cannot protect small counts; using %d",
            configured,
            suppression.DEFAULT_THRESHOLD,
        )
        return suppression.DEFAULT_THRESHOLD


def viewer_for(user) -> Viewer | None:
    """None when the user may not see statistics (or is a social worker with no organisation)."""
    from backoffice.security import ADMIN, COORDINATOR, MODERATOR, SOCIAL_WORKER

    if user is None or not getattr(user, "is_authenticated", False):
        return None
    k = threshold()
    if user.has_role(COORDINATOR, MODERATOR, ADMIN):
        return Viewer(organisation_id=None, screen_threshold=k, export_threshold=k)
    if user.has_role(SOCIAL_WORKER) and getattr(user, "organisation_id", None) is not None:
        return Viewer(
            organisation_id=user.organisation_id, screen_threshold=None, export_threshold=k
        )
    return None


# --- the SQL building blocks ----------------------------------------------------------------


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _sql_string(value: str):
    """A constant written into the SQL text (not a bound parameter).

    PostgreSQL matches a ``GROUP BY`` expression with the selected one only when they are
    written identically; two bound parameters holding the same pattern are not.
    """
    return literal_column("'" + value.replace("'", "''") + "'")


def bucket_of(column, granularity: str):
    """The text label of the day, week (its Monday), month or year of a date or timestamp."""
    if _postgres():
        if granularity == "week":
            week = func.date_trunc(_sql_string("week"), column)
            return func.to_char(week, _sql_string("YYYY-MM-DD"))
        pattern = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[granularity]
        return func.to_char(column, _sql_string(pattern))
    if granularity == "week":
        return func.strftime(
            _sql_string("%Y-%m-%d"), column, _sql_string("weekday 0"), _sql_string("-6 days")
        )
    pattern = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[granularity]
    return func.strftime(_sql_string(pattern), column)


def hours_between(start, end):
    if _postgres():
        return func.date_part(_sql_string("epoch"), end - start) / 3600.0
    # Whole seconds: julianday() differences are floats, and 10 h came out as 9.99999… h.
    seconds = func.strftime(_sql_string("%s"), end) - func.strftime(_sql_string("%s"), start)
    return seconds / 3600.0


def region_of_department(column):
    """The region (2016 boundaries) of a department code, as a SQL ``CASE``."""
    whens = [
        (column.in_([_sql_string(d) for d in departments]), _sql_string(name))
        for name, departments in REGIONS.items()
    ]
    return case(*whens, else_=_sql_string(""))


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


def _month_buckets(period: Period) -> list[str]:
    return buckets(period, "month")


def _report_conditions(scope: Scope, counted: bool = True) -> list:
    """Which reports a figure is made of: consent, period, department, organisation."""
    conditions = [
        Report.consent_statistics.is_(True),
        Report.received_at >= scope.period.starts_at,
        Report.received_at < scope.period.ends_before,
    ]
    if counted:
        conditions.append(Report.status.notin_(NOT_COUNTED_STATUSES))
    if scope.department:
        conditions.append(Report.department == scope.department)
    if scope.organisation_id is not None:
        conditions.append(_report_of_organisation(scope.organisation_id))
    return conditions


def _report_of_organisation(organisation_id: int):
    """Filed by the organisation, or routed to it (a case of its own follows the report)."""
    filed = Report.filing_organisation_id == organisation_id
    case_model = _model("backoffice.models.case", "Case")
    if case_model is None:
        return filed
    routed = exists().where(
        case_model.report_id == Report.id, case_model.organisation_id == organisation_id
    )
    return or_(filed, routed)


def _model(module: str, name: str, *attributes: str):
    """A model of another area, or None while that area has not landed (checked, not assumed)."""
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    if found is None or any(not hasattr(found, attribute) for attribute in attributes):
        return None
    return found


def _code(value) -> str:
    return NOT_GIVEN if value is None else str(value)


def _whole_hours(expression):
    """Whole hours, never negative (a clock skew must not give a negative delay)."""
    if _postgres():
        return cast(func.greatest(func.floor(expression), literal_column("0")), db.Integer)
    return cast(func.max(expression, literal_column("0")), db.Integer)


def day_of(column):
    """The UTC day of a timestamp, as a date on both databases."""
    if _postgres():
        return cast(column, db.Date)
    return func.date(column)


# --- the source rows: counts per day, department, dimension and value -----------------------
#
# ``_source_selects`` is THE definition of the report and alert figures. It yields rows
# (day, department, dimension, value, count): ``reports`` per day and department (counted
# reports), the other dimensions per day for all departments (``*``), moderation delays as a
# histogram of whole hours per receipt day, and alert events per day. The rollup table is
# filled with it (all days, then the days that changed); a filtered scope (one department,
# one organisation) runs it live into a temporary table. The dashboard's figures are then the
# same ``GROUP BY`` over either.

ALL_DEPARTMENTS = "*"
REPORT_DIMENSIONS = ("channel", "work_context", "language", "reporter_relation")
SOURCE_COLUMNS = ("day", "department", "dimension", "value", "count")
HISTOGRAMS = ("decision_hours", "publication_hours", "first_contact_hours")
SCOPE_TABLE = "statistics_scope"


def _counted(select_rows: dict[str, object], where: list, *, join=None) -> object:
    """``SELECT day, department, dimension, value, count(*) … GROUP BY`` the four labels.

    The labelled expressions are computed in an inner query and grouped by name outside, so
    PostgreSQL never has to match two spellings of one expression.
    """
    inner = select(*[expression.label(name) for name, expression in select_rows.items()])
    if join is not None:
        inner = join(inner)
    inner = inner.where(*where).subquery()
    keys = [inner.c[name] for name in SOURCE_COLUMNS[:-1]]
    return select(*keys, func.count().label("count")).group_by(*keys)


def _labels(day, department, dimension: str, value) -> dict[str, object]:
    return {
        "day": day,
        "department": department,
        "dimension": _sql_string(dimension),
        "value": func.coalesce(cast(value, db.String), _sql_string(NOT_GIVEN)),
    }


def _source_selects(
    window, department: str | None, organisation_id: int | None, history=None
) -> list:
    """Every source row: reports received in ``window``, alert events, cases opened and
    referrals made in it; subscriber arrivals and departures in ``history`` (a stock needs
    every flow before the end of the period)."""
    scoped = _scoped_reports(window, department, organisation_id)
    day = day_of(scoped.c.received_at)
    everywhere = _sql_string(ALL_DEPARTMENTS)
    counted = [scoped.c.status.notin_(NOT_COUNTED_STATUSES)]

    def from_scoped(inner):
        return inner.select_from(scoped)

    selects = [
        _counted(
            _labels(day, scoped.c.department, "reports", _sql_string("")), counted, join=from_scoped
        )
    ]
    for name in REPORT_DIMENSIONS:
        selects.append(
            _counted(_labels(day, everywhere, name, scoped.c[name]), counted, join=from_scoped)
        )
    items = _violence_items(scoped.c.violence_types)
    selects.append(
        _counted(
            _labels(day, everywhere, "violence_type", items.c.value),
            counted,
            join=lambda inner: inner.select_from(scoped).join(items, true()),
        )
    )
    selects += _moderation_selects(scoped)
    if organisation_id is None:
        selects += _alert_selects(window, department)
    selects += _subscriber_selects(history or window, department, organisation_id)
    selects += _case_selects(window, department, organisation_id)
    return selects


def _materialised(cte):
    """PostgreSQL would inline a CTE read by several parts of the union: compute it once."""
    return cte.prefix_with("MATERIALIZED", dialect="postgresql")


def _scoped_reports(window, department: str | None, organisation_id: int | None):
    """The reports a figure may use (consent to statistics), read once for every part."""
    conditions = [Report.consent_statistics.is_(True), window(Report.received_at)]
    if department:
        conditions.append(Report.department == department)
    if organisation_id is not None:
        conditions.append(_report_of_organisation(organisation_id))
    columns = ["id", "received_at", "department", "status", *REPORT_DIMENSIONS, "violence_types"]
    statement = select(*[getattr(Report, c) for c in columns]).where(*conditions)
    return _materialised(statement.cte("scoped_reports"))


def _violence_items(column):
    """The elements of a JSON list column as rows (``value``), per dialect."""
    if _postgres():
        return func.json_array_elements_text(column).table_valued("value").lateral()
    return func.json_each(column).table_valued("value")


def _moderation_selects(scoped) -> list:
    """Per receipt day: whole hours from receipt to the first decision and to the first
    publication (histograms, for medians), and every report by its moderation outcome.

    The events are read once, joined to the scoped reports."""
    decided = case((ReportEvent.action.in_(DECISION_ACTIONS), ReportEvent.occurred_at))
    published = case((ReportEvent.action == "publish", ReportEvent.occurred_at))
    firsts = _materialised(
        select(
            scoped.c.received_at.label("received_at"),
            scoped.c.status.label("status"),
            func.min(decided).label("decided_at"),
            func.min(published).label("published_at"),
        )
        .select_from(scoped)
        .outerjoin(
            ReportEvent,
            and_(
                ReportEvent.report_id == scoped.c.id,
                ReportEvent.action.in_((*DECISION_ACTIONS, "publish")),
            ),
        )
        .group_by(scoped.c.id, scoped.c.received_at, scoped.c.status)
        .cte("report_firsts")
    )
    day = day_of(firsts.c.received_at)
    everywhere = _sql_string(ALL_DEPARTMENTS)

    def from_firsts(inner):
        return inner.select_from(firsts)

    selects = []
    for dimension, column in (
        ("decision_hours", firsts.c.decided_at),
        ("publication_hours", firsts.c.published_at),
    ):
        hours = _whole_hours(hours_between(firsts.c.received_at, column))
        selects.append(
            _counted(
                _labels(day, everywhere, dimension, hours), [column.is_not(None)], join=from_firsts
            )
        )
    outcome = case(
        *[(firsts.c.status == status, _sql_string(code)) for status, code in
          OUTCOME_OF_STATUS.items()],
        else_=_sql_string("pending"),
    )  # fmt: skip
    selects.append(_counted(_labels(day, everywhere, "outcome", outcome), [], join=from_firsts))
    return selects


def _subscriber_selects(window, department: str | None, organisation_id: int | None) -> list:
    """Registrations and departures per day: a stock at a date is the sum of flows before it."""
    subscriber = _model("backoffice.models.subscriber", "Subscriber", "validated_at", "language")
    link = _model("backoffice.models.subscriber", "SubscriberDepartment", "department")
    if subscriber is None or link is None:
        return []
    conditions = [subscriber.validated_at.is_not(None)]
    if organisation_id is not None:
        conditions.append(subscriber.organisation_id == organisation_id)
    if department:
        chosen = aliased(link)
        conditions.append(
            or_(
                subscriber.all_departments.is_(True),
                exists().where(
                    chosen.subscriber_id == subscriber.id, chosen.department == department
                ),
            )
        )
    everywhere = _sql_string(ALL_DEPARTMENTS)
    # What a subscriber follows: "*" for all of France, else each of her departments.
    followed = case(
        (subscriber.all_departments.is_(True), _sql_string(ALL_DEPARTMENTS)),
        else_=func.coalesce(link.department, _sql_string(NOT_GIVEN)),
    )
    selects = []
    for direction, column in (("in", subscriber.validated_at), ("out", subscriber.unsubscribed_at)):
        where = [*conditions, column.is_not(None), window(column)]
        day = day_of(column)
        selects.append(
            _counted(
                _labels(day, everywhere, f"subscribers_{direction}", subscriber.language), where
            )
        )
        selects.append(
            _counted(
                _labels(day, everywhere, f"subscriber_areas_{direction}", followed),
                where,
                join=lambda inner: inner.select_from(subscriber).outerjoin(
                    link,
                    and_(
                        link.subscriber_id == subscriber.id,
                        subscriber.all_departments.is_(False),
                    ),
                ),
            )
        )
    return selects


def _case_models():
    case_model = _model("backoffice.models.case", "Case", "opened_at", "status", "outcome")
    return (
        case_model,
        _model("backoffice.models.case", "CaseNeed", "need"),
        _model("backoffice.models.case", "Referral", "structure_id", "status"),
        _model("backoffice.models.case", "CaseTransfer", "from_case_id", "to_case_id"),
        _model("backoffice.models.structure", "Structure", "category"),
    )


def _case_conditions(case_model, transfer_model, department, organisation_id) -> list:
    """Cases counted: none that follows a report whose victim refused statistics."""
    refused = exists().where(
        Report.id == case_model.report_id, Report.consent_statistics.is_(False)
    )
    conditions = [not_(refused)]
    if transfer_model is not None:
        origin = aliased(case_model)
        refused_origin = (
            exists()
            .where(transfer_model.to_case_id == case_model.id)
            .where(origin.id == transfer_model.from_case_id)
            .where(Report.id == origin.report_id, Report.consent_statistics.is_(False))
        )
        conditions.append(not_(refused_origin))
    if organisation_id is not None:
        conditions.append(case_model.organisation_id == organisation_id)
    else:
        # Programme-wide, a transferred case is the same person as the case it came from.
        conditions.append(case_model.source != "transfer")
    if department:
        conditions.append(case_model.department == department)
    return conditions


def _case_selects(window, department: str | None, organisation_id: int | None) -> list:
    case_model, need_model, referral_model, transfer_model, structure_model = _case_models()
    if case_model is None:
        return []
    conditions = _case_conditions(case_model, transfer_model, department, organisation_id)
    opened = [*conditions, window(case_model.opened_at)]
    day = day_of(case_model.opened_at)
    everywhere = _sql_string(ALL_DEPARTMENTS)
    selects = [
        # Status and outcome together: a case has an outcome exactly when it is closed.
        _counted(
            _labels(day, everywhere, "case_state", case_model.status.concat(_sql_string("|"))
                    .concat(func.coalesce(case_model.outcome, _sql_string(STILL_OPEN)))),
            opened,
        ),
        _counted(_labels(day, everywhere, "case_source", case_model.source), opened),
    ]  # fmt: skip
    if need_model is not None:
        selects.append(
            _counted(
                _labels(day, everywhere, "case_need", need_model.need),
                opened,
                join=lambda inner: inner.select_from(case_model).join(
                    need_model, need_model.case_id == case_model.id
                ),
            )
        )
    contacted = getattr(case_model, "first_contact_at", None)
    if contacted is not None:
        hours = _whole_hours(hours_between(case_model.opened_at, contacted))
        selects.append(
            _counted(
                _labels(day, everywhere, "first_contact_hours", hours),
                [*opened, contacted.is_not(None)],
            )
        )
    if referral_model is not None and structure_model is not None:
        kind = structure_model.category.concat(_sql_string("|")).concat(referral_model.status)
        selects.append(
            _counted(
                _labels(day_of(referral_model.created_at), everywhere, "referral", kind),
                [*conditions, window(referral_model.created_at)],
                join=lambda inner: (
                    inner.select_from(referral_model)
                    .join(case_model, case_model.id == referral_model.case_id)
                    .join(structure_model, structure_model.id == referral_model.structure_id)
                ),
            )
        )
    return selects


ALERT_EVENTS = {"published": "published_at", "retracted": "retracted_at", "expired": "archived_at"}


def _alert_selects(window, department: str | None) -> list:
    # Backed by at least one report whose victim did not refuse statistics (the refused ones
    # are few and indexed: an anti-join, not a lookup per alert).
    refused = exists().where(
        Report.id == AlertReport.report_id, Report.consent_statistics.is_(False)
    )
    backed = exists().where(AlertReport.alert_id == Alert.id, not_(refused))
    conditions = [backed]
    if department:
        conditions.append(
            exists().where(
                AlertDepartment.alert_id == Alert.id, AlertDepartment.department == department
            )
        )
    selects = []
    for code, attribute in ALERT_EVENTS.items():
        column = getattr(Alert, attribute)
        where = [*conditions, column.is_not(None), window(column)]
        if code == "expired":
            where.append(Alert.status == "archived")
        labels = _labels(day_of(column), _sql_string(ALL_DEPARTMENTS), "alerts", _sql_string(code))
        selects.append(_counted(labels, where))
    return selects


def _period_window(period: Period):
    return lambda column: and_(column >= period.starts_at, column < period.ends_before)


def _days_window(days: Iterable[dt.date]):
    """A window covering some days: contiguous days become one range."""
    ranges: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])

    def window(column):
        return or_(
            *[
                and_(
                    column >= dt.datetime.combine(first, dt.time()),
                    column < dt.datetime.combine(last + dt.timedelta(days=1), dt.time()),
                )
                for first, last in ranges
            ]
        )

    return window


def _everything(column):
    return column.is_not(None)


# --- the rollup ---------------------------------------------------------------------------------


def _rollup_table():
    from backoffice.models.statistics import StatisticsDaily

    return StatisticsDaily.__table__


def refresh_margin() -> dt.timedelta:
    minutes = 15
    if has_app_context():
        minutes = int(current_app.config.get("STATS_REFRESH_MARGIN_MINUTES", minutes))
    return dt.timedelta(minutes=minutes)


def refresh_rollup(*, full: bool = False, now: dt.datetime | None = None) -> int:
    """Bring the rollup up to date; returns how many days were recomputed (-1: all).

    Under a lock on the bookkeeping row, so two refreshes never interleave (taken only when
    something changed). The days recomputed are those of reports, alerts, cases, referrals
    and subscribers changed since the last refresh, less a margin (a transaction still open
    when it ran commits later with an older ``updated_at``); the nightly rebuild catches
    anything else (a deleted row).
    """
    from backoffice.models.base import utcnow
    from backoffice.models.statistics import StatisticsRefresh

    now = now or utcnow()
    if not full:
        # A plain read first: when nothing changed, no lock is taken (SQLite's is global).
        seen = db.session.scalars(select(StatisticsRefresh).order_by(StatisticsRefresh.id)).first()
        up_to_date = seen is not None and seen.rebuilt_at is not None
        if up_to_date and not _changed_days((seen.refreshed_at or now) - refresh_margin()):
            return 0
    state = _locked_state(StatisticsRefresh)
    table = _rollup_table()
    if full or state.rebuilt_at is None:
        db.session.execute(table.delete())
        _insert_source(table, _everything)
        state.rebuilt_at = now
        state.refreshed_at = now
        state.days_refreshed = -1
        db.session.commit()
        return -1
    since = (state.refreshed_at or now) - refresh_margin()
    days = _changed_days(since)
    if days:
        db.session.execute(table.delete().where(table.c.day.in_(sorted(days))))
        _insert_source(table, _days_window(days))
    state.refreshed_at = now
    state.days_refreshed = len(days)
    db.session.commit()
    return len(days)


def rebuild_rollup() -> None:
    """The nightly ``statistics_rebuild`` job: recompute the whole rollup."""
    refresh_rollup(full=True)


def _locked_state(model):
    # Writing first takes SQLite's write lock at once (no lock upgrade, no deadlock);
    # PostgreSQL locks the row.
    db.session.execute(model.__table__.update().values(id=model.__table__.c.id))
    state = db.session.scalars(select(model).order_by(model.id).with_for_update()).first()
    if state is None:
        state = model(id=1)
        db.session.add(state)
        db.session.flush()
    return state


def _changed_days(since: dt.datetime) -> set[dt.date]:
    """Days whose source rows may have changed: those of rows updated since ``since``."""
    probes = [(Report.updated_at, [Report.received_at])]
    probes.append((Alert.updated_at, [getattr(Alert, a) for a in ALERT_EVENTS.values()]))
    subscriber = _model("backoffice.models.subscriber", "Subscriber", "updated_at")
    if subscriber is not None:
        probes.append(
            (subscriber.updated_at, [subscriber.validated_at, subscriber.unsubscribed_at])
        )
    case_model, _need, referral_model, _transfer, _structure = _case_models()
    if case_model is not None:
        probes.append((case_model.updated_at, [case_model.opened_at]))
    if referral_model is not None:
        probes.append((referral_model.updated_at, [referral_model.created_at]))
    days: set[dt.date] = set()
    for changed, columns in probes:
        for column in columns:
            statement = select(day_of(column)).where(changed >= since, column.is_not(None))
            days |= {_as_date(d) for d in db.session.scalars(statement.distinct())}
    event_model = _model("backoffice.models.case", "CaseEvent", "occurred_at")
    if case_model is not None and event_model is not None:
        # Needs and statuses change through the case service, which writes a case event.
        statement = (
            select(day_of(case_model.opened_at))
            .join(event_model, event_model.case_id == case_model.id)
            .where(event_model.occurred_at >= since)
        )
        days |= {_as_date(d) for d in db.session.scalars(statement.distinct())}
    return days


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _insert_source(table, window, department=None, organisation_id=None, history=None) -> None:
    source = union_all(*_source_selects(window, department, organisation_id, history))
    columns = [table.c[name] for name in SOURCE_COLUMNS]
    db.session.execute(table.insert().from_select(columns, source))


def _scope_source(scope: Scope, live: bool = False):
    """The table the report and alert figures of ``scope`` are read from."""
    if not live and scope.department is None and scope.organisation_id is None:
        refresh_rollup()
        return _rollup_table()
    table = _scope_table()
    db.session.execute(table.delete())
    period = scope.period
    _insert_source(
        table,
        _period_window(period),
        scope.department,
        scope.organisation_id,
        history=lambda column: column < period.ends_before,
    )
    return table


def _scope_table():
    """A temporary table (per connection) for the source rows of a filtered scope."""
    from sqlalchemy import Column as SqlColumn
    from sqlalchemy import Date, Integer, MetaData, String, Table, text

    db.session.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {SCOPE_TABLE} (day DATE, department "
            "VARCHAR(3), dimension VARCHAR(24), value VARCHAR(40), count INTEGER)"
        )
    )
    return Table(
        SCOPE_TABLE,
        MetaData(),
        SqlColumn("day", Date),
        SqlColumn("department", String(3)),
        SqlColumn("dimension", String(24)),
        SqlColumn("value", String(40)),
        SqlColumn("count", Integer),
    )


# --- reading the source ------------------------------------------------------------------------


VALUE_DIMENSIONS = (
    *REPORT_DIMENSIONS,
    "violence_type",
    "outcome",
    "case_state",
    "case_source",
    "case_need",
    "referral",
)
MONTHLY_DIMENSIONS = ("subscribers_in", "alerts", *HISTOGRAMS)
STOCKS = {"subscribers": ("subscribers_in", "subscribers_out"),
          "subscriber_areas": ("subscriber_areas_in", "subscriber_areas_out")}  # fmt: skip


class _Reader:
    """Reads a source (the rollup or a scope's temporary table) in a few batched queries."""

    def __init__(self, source, period: Period) -> None:
        self.source = source
        self.period = period
        self._cache: dict[str, object] = {}

    def _in_period(self) -> list:
        return [self.source.c.day >= self.period.start, self.source.c.day <= self.period.end]

    def _once(self, key: str, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def sums(self, dimension: str) -> dict[str, int]:
        """Counts by value over the period (all departments)."""

        def compute():
            c = self.source.c
            statement = (
                select(c.dimension, c.value, func.sum(c.count))
                .where(*self._in_period(), c.dimension.in_(VALUE_DIMENSIONS))
                .where(c.department == ALL_DEPARTMENTS)
                .group_by(c.dimension, c.value)
            )
            result: dict[str, dict[str, int]] = {d: {} for d in VALUE_DIMENSIONS}
            for name, value, count in db.session.execute(statement):
                result[name][_code(value)] = int(count or 0)
            return result

        return self._once("sums", compute)[dimension]

    def monthly(self, dimension: str, value: str | None = None) -> dict[str, int]:
        """Counts by month of the period (all values together, except for alerts)."""

        def compute():
            c = self.source.c
            # Only alerts are split by value (published, retracted, expired).
            collapsed = case((c.dimension == "alerts", c.value), else_=_sql_string(""))
            inner = (
                select(
                    c.dimension.label("d"),
                    bucket_of(c.day, "month").label("m"),
                    collapsed.label("v"),
                    c.count,
                )
                .where(*self._in_period(), c.dimension.in_(MONTHLY_DIMENSIONS))
                .where(c.department == ALL_DEPARTMENTS)
                .subquery()
            )
            keys = [inner.c.d, inner.c.m, inner.c.v]
            statement = select(*keys, func.sum(inner.c.count)).group_by(*keys)
            result: dict[tuple[str, str], dict[str, int]] = {}
            for name, month, found, count in db.session.execute(statement):
                result.setdefault((name, _code(found)), {})[str(month)] = int(count or 0)
            return result

        return self._once("monthly", compute).get((dimension, value or NOT_GIVEN), {})

    def reports_by(self, what: str, granularity: str = "month") -> dict[str, int]:
        """Counted reports by department, region or period bucket."""
        c = self.source.c
        key = {
            "department": c.department,
            "region": region_of_department(c.department),
            "trend": bucket_of(c.day, granularity),
        }[what]
        inner = (
            select(key.label("k"), c.count)
            .where(*self._in_period(), c.dimension == "reports")
            .subquery()
        )
        statement = select(inner.c.k, func.sum(inner.c.count)).group_by(inner.c.k)
        return {_code(k): int(n or 0) for k, n in db.session.execute(statement)}

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
        c = self.source.c
        month = bucket_of(c.day, "month") if per_month else _sql_string("__total__")
        bins = (
            select(
                c.dimension.label("d"),
                month.label("m"),
                cast(c.value, db.Integer).label("h"),
                c.count.label("n"),
            )
            .where(*self._in_period(), c.dimension.in_(HISTOGRAMS))
            .where(c.department == ALL_DEPARTMENTS)
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
        """Histogram counts in the ``DELAY_BUCKETS`` bands."""

        def compute():
            c = self.source.c
            hours = cast(c.value, db.Integer)
            whens = [(hours < limit, _sql_string(code)) for code, _l, limit in DELAY_BUCKETS[:-1]]
            band = case(*whens, else_=_sql_string(DELAY_BUCKETS[-1][0]))
            inner = (
                select(c.dimension.label("d"), band.label("b"), c.count)
                .where(*self._in_period(), c.dimension.in_(HISTOGRAMS))
                .where(c.department == ALL_DEPARTMENTS)
                .subquery()
            )
            keys = [inner.c.d, inner.c.b]
            result: dict[str, dict[str, int]] = {d: {} for d in HISTOGRAMS}
            for name, found, count in db.session.execute(
                select(*keys, func.sum(inner.c.count)).group_by(*keys)
            ):
                result[name][str(found)] = int(count or 0)
            return result

        return dict(self._once("buckets", compute)[dimension])

    def stock(self, name: str) -> dict[str, int]:
        """Arrivals minus departures of every day up to the end of the period, by value."""

        def compute():
            c = self.source.c
            pairs = {d: stock for stock, dims in STOCKS.items() for d in dims}
            arrivals = [dims[0] for dims in STOCKS.values()]
            signed = case((c.dimension.in_(arrivals), c.count), else_=-c.count)
            which = case(
                *[(c.dimension.in_(dims), _sql_string(stock)) for stock, dims in STOCKS.items()]
            )
            inner = (
                select(which.label("s"), c.value.label("v"), signed.label("n"))
                .where(c.day <= self.period.end, c.dimension.in_(list(pairs)))
                .where(c.department == ALL_DEPARTMENTS)
                .subquery()
            )
            keys = [inner.c.s, inner.c.v]
            result: dict[str, dict[str, int]] = {stock: {} for stock in STOCKS}
            for stock, value, count in db.session.execute(
                select(*keys, func.sum(inner.c.n)).group_by(*keys)
            ):
                if count:
                    result[str(stock)][_code(value)] = int(count)
            return result

        return self._once("stocks", compute)[name]


def _float(value) -> float | None:
    return None if value is None else round(float(value), 1)


# --- results ---------------------------------------------------------------------------------


@dataclass
class KeyFigure:
    code: str
    label: object
    value: int | float | None
    kind: str = "count"  # count, per_day, hours, percent
    base: int | None = None  # the count a derived figure rests on (hidden when it is small)


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
    available: bool = True
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

    def key_figure(self, code: str) -> KeyFigure | None:
        return next((k for k in self.key_figures if k.code == code), None)


def _one_column(
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


# --- the figures -----------------------------------------------------------------------------


def compute(scope: Scope, granularity: str = "month", *, live: bool = False) -> Figures:
    """Every figure of the dashboard and of the funder report, for one scope.

    Programme-wide figures read the rollup; ``live=True`` computes them from the records
    instead (the same SQL), which is what a filtered scope always does.
    """
    if granularity not in GRANULARITIES:
        raise PeriodError(_l("Unknown grouping."))
    scope.period.check()
    if granularity == "day" and scope.period.days > MAX_DAILY_DAYS:
        raise PeriodError(_l("Group by week or month for a period longer than a year."))
    reader = _Reader(_scope_source(scope, live=live), scope.period)
    sections = [
        _reports_section(scope, granularity, reader),
        _moderation_section(scope, reader),
    ]
    if scope.organisation_id is None:
        sections += [_alerts_section(scope, reader), _checks_section(scope)]
    sections += [
        _subscribers_section(scope, reader),
        _cases_section(scope, reader),
        _outreach_section(scope),
    ]
    figures = Figures(scope=scope, granularity=granularity, key_figures=[], sections=sections)
    figures.key_figures = _key_figures(figures)
    return figures


def _reports_section(scope: Scope, granularity: str, reader: _Reader) -> Section:
    period = scope.period
    sums = {name: reader.sums(name) for name in [*REPORT_DIMENSIONS, "violence_type"]}
    by_department = reader.reports_by("department")
    by_region = reader.reports_by("region")
    trend = reader.reports_by("trend", granularity)
    total = sum(by_department.values())
    trend_labels = {b: _bucket_label(b, granularity) for b in buckets(period, granularity)}
    unit = str(GRANULARITIES[granularity]).lower()
    tables = [
        _one_column(f"reports_by_{granularity}", _l("Reports received by %(unit)s", unit=unit),
                    GRANULARITIES[granularity], trend, trend_labels, total),
        _one_column("reports_by_violence_type", _l("Reports by violence type"),
                    _l("Violence type"), sums["violence_type"], VIOLENCE_TYPES, total,
                    additive=False, column_label=_l("Reports")),
        _places_table(by_department, by_region, total),
        _one_column("reports_by_work_context", _l("Reports by work context"), _l("Work context"),
                    sums["work_context"], {**WORK_CONTEXTS, NOT_GIVEN: NOT_GIVEN_LABEL}, total),
        _one_column("reports_by_channel", _l("Reports by channel"), _l("Channel"),
                    sums["channel"], CHANNELS, total),
        _one_column("reports_by_language", _l("Reports by language"), _l("Language"),
                    sums["language"], _language_labels(sums["language"]), total),
        _one_column("reports_by_reporter_relation", _l("Reports by who sent them"),
                    _l("Sent by"), sums["reporter_relation"],
                    {**REPORTER_RELATIONS, NOT_GIVEN: NOT_GIVEN_LABEL}, total),
    ]  # fmt: skip
    if scope.department:
        # One department: the place table would only repeat the total.
        tables = [t for t in tables if t.key != "reports_by_place"]
    return Section("reports", _l("Reports"), tables)


def _bucket_label(bucket: str, granularity: str) -> str:
    if granularity == "month":
        return format_date(dt.date.fromisoformat(bucket + "-01"), "LLL y")
    if granularity == "week":
        return str(_l("Week of %(date)s", date=format_date(dt.date.fromisoformat(bucket), "short")))
    if granularity == "day":
        return format_date(dt.date.fromisoformat(bucket), "short")
    return bucket


def _language_labels(counts: dict[str, int]) -> dict[str, object]:
    from babel import Locale

    locale = get_locale() if has_app_context() else None
    labels: dict[str, object] = {}
    for code in sorted(counts):
        if code == NOT_GIVEN:
            continue
        try:
            name = Locale.parse(code.replace("-", "_")).get_display_name(locale or "en")
        except (ValueError, TypeError):
            name = None
        labels[code] = f"{name} ({code})" if name else code
    labels[NOT_GIVEN] = NOT_GIVEN_LABEL
    return labels


def _places_table(by_department: dict[str, int], by_region: dict[str, int], total: int) -> Table:
    """Departments grouped in their regions: one table, so both views are protected together."""
    region_of = {d: name for name, departments in REGIONS.items() for d in departments}
    rows = [
        Row(code, code, [count], group=region_of.get(code, "other"))
        for code, count in sorted(by_department.items())
        if count
    ]
    groups = [Group(name, name, [by_region.get(name, 0)]) for name in REGIONS]
    unknown = sum(r.values[0] for r in rows if r.group == "other")
    if unknown:
        groups.append(Group("other", _l("Other"), [unknown]))
    return Table(
        key="reports_by_place",
        title=_l("Reports by region and department"),
        row_header=_l("Department"),
        columns=[Column("count", _l("Reports"))],
        rows=rows,
        total=[total],
        groups=groups,
        row_label_is_code=True,
    )


def _moderation_section(scope: Scope, reader: _Reader) -> Section:
    outcome_table = _outcome_table(reader.sums("outcome"))
    delays, measures = _delays(scope, reader)
    return Section(
        "moderation",
        _l("Moderation"),
        [outcome_table, delays],
        measures={delays.key: measures},
        note=_l(
            "Delays run from the receipt of a report to its first decision and to its first "
            "publication, in whole hours; the median is the middle value (the lower one of "
            "the two middle values)."
        ),
    )


COUNTED_OUTCOMES = ("alert", "recorded", "pending")


def _outcome_table(counts: dict[str, int]) -> Table:
    """Every report received, by moderation outcome.

    Published together with "reports received" (alert + recorded + pending, the counted
    ones): the outcomes are grouped so that this relation is part of the table's protection.
    """
    rows = [
        Row(code, label, [counts.get(code, 0)],
            group="counted" if code in COUNTED_OUTCOMES else "not_counted")
        for code, label in OUTCOMES.items()
    ]  # fmt: skip
    counted = sum(r.values[0] for r in rows if r.group == "counted")
    groups = [
        Group("counted", _l("Counted in the figures"), [counted], fixed=True),
        Group("not_counted", _l("Not counted (rejected or merged)"), [sum(
            r.values[0] for r in rows if r.group == "not_counted")]),
    ]  # fmt: skip
    return Table(
        key="moderation_outcomes",
        title=_l("Moderation outcome of the reports received"),
        row_header=_l("Outcome"),
        columns=[Column("count", _l("Reports"))],
        rows=rows,
        total=[sum(r.values[0] for r in rows)],
        groups=groups,
        # every report received, rejected and merged ones included: a figure of this table
        fixed_total=False,
        note=_l("Every report received, including those rejected or merged."),
    )


def _delays(scope: Scope, reader: _Reader) -> tuple[Table, list[Measure]]:
    period = scope.period
    decided = reader.monthly("decision_hours")
    published = reader.monthly("publication_hours")
    median_decided = reader.medians("decision_hours")
    median_published = reader.medians("publication_hours")
    months = _month_buckets(period)
    rows = [
        Row(m, _bucket_label(m, "month"), [decided.get(m, 0), published.get(m, 0)]) for m in months
    ]
    table = Table(
        key="moderation_delays",
        title=_l("Delays from receipt to decision and to publication"),
        row_header=_l("Month of receipt"),
        columns=[Column("decided", _l("Reports decided")), Column("published", _l("Published"))],
        rows=rows,
        total=[sum(decided.values()), sum(published.values())],
        # The counts are linked to the outcome table (decided = received - awaiting): only
        # the medians are shown, each when it rests on enough reports.
        counts_shown=False,
    )
    measures = [
        Measure("median_decision_hours", _l("Median hours to decision"),
                {m: median_decided.get(m) for m in [*months, "__total__"]}, ("decided",)),
        Measure("median_publication_hours", _l("Median hours to publication"),
                {m: median_published.get(m) for m in [*months, "__total__"]}, ("published",)),
    ]  # fmt: skip
    return table, measures


def _alerts_section(scope: Scope, reader: _Reader) -> Section:
    counts = {
        (month, code): n
        for code in ALERT_EVENTS
        for month, n in reader.monthly("alerts", code).items()
    }
    columns = [
        Column("published", _l("Published")),
        Column("retracted", _l("Retracted")),
        Column("expired", _l("Expired")),
    ]
    months = _month_buckets(scope.period)
    rows = [
        Row(m, _bucket_label(m, "month"), [counts.get((m, c.code), 0) for c in columns])
        for m in months
    ]
    table = Table(
        key="alerts_by_month",
        title=_l("Alerts published, retracted and expired"),
        row_header=_l("Month"),
        columns=columns,
        rows=rows,
        total=[sum(r.values[i] for r in rows) for i in range(len(columns))],
    )
    note = _l("Alerts backed only by reports whose victims refused statistics are not counted.")
    return Section("alerts", _l("Alerts"), [table], note=note)


def _checks_section(scope: Scope) -> Section:
    first = scope.period.start.replace(day=1)
    window = [IdentifierCheck.month >= first, IdentifierCheck.month <= scope.period.end]
    month = bucket_of(IdentifierCheck.month, "month")
    by_month = db.session.execute(
        select(month, IdentifierCheck.matched, func.sum(IdentifierCheck.count))
        .where(*window)
        .group_by(month, IdentifierCheck.matched)
    ).all()
    by_kind = db.session.execute(
        select(IdentifierCheck.kind, IdentifierCheck.matched, func.sum(IdentifierCheck.count))
        .where(*window)
        .group_by(IdentifierCheck.kind, IdentifierCheck.matched)
    ).all()
    columns = [Column("matched", _l("With a match")), Column("unmatched", _l("No match"))]
    months = _month_buckets(scope.period)
    month_table = _matched_table(
        "checks_by_month", _l("Identifier checks by month"), _l("Month"), months,
        {m: _bucket_label(m, "month") for m in months}, by_month, columns,
    )  # fmt: skip
    kind_table = _matched_table(
        "checks_by_kind", _l("Identifier checks by kind"), _l("Kind"), list(IDENTIFIER_KINDS),
        IDENTIFIER_KINDS, by_kind, columns,
    )  # fmt: skip
    rate = Measure("match_rate", _l("Match rate"), {}, ("matched", "∑"), unit="percent")
    measures = {}
    for table in (month_table, kind_table):
        values = {row.code: _percent(row.values[0], sum(row.values)) for row in table.rows}
        values["__total__"] = _percent(table.total[0], sum(table.total))
        measures[table.key] = [Measure(rate.code, rate.label, values, rate.bases, "percent")]
    note = _l("Checks are counted per month, for every department: they carry neither a "
              "department nor a person.")  # fmt: skip
    return Section(
        "checks", _l("Identifier checks"), [month_table, kind_table], measures, note=note
    )


def _matched_table(key, title, header, codes, labels, rows, columns) -> Table:
    counts: dict[tuple[str, bool], int] = {}
    for code, matched, n in rows:
        counts[(str(code), bool(matched))] = int(n or 0)
    table_rows = [
        Row(
            code,
            labels.get(code, code),
            [counts.get((code, True), 0), counts.get((code, False), 0)],
        )
        for code in codes
    ]
    return Table(
        key=key,
        title=title,
        row_header=header,
        columns=columns,
        rows=table_rows,
        total=[sum(r.values[0] for r in table_rows), sum(r.values[1] for r in table_rows)],
        row_totals=True,
        # the checks by month and by kind publish the same column totals
        fixed_total_row=True,
    )


def _percent(part: int | None, whole: int | None) -> float | None:
    if not whole:
        return None
    return round(100.0 * (part or 0) / whole, 1)


def _subscribers_section(scope: Scope, reader: _Reader) -> Section:
    title = _l("Subscribers")
    if _model("backoffice.models.subscriber", "Subscriber", "validated_at") is None:
        return Section("subscribers", title, available=False, note=_l("Not available yet."))
    period = scope.period
    new = reader.monthly("subscribers_in")
    months = _month_buckets(period)
    new_table = _one_column(
        "subscribers_new_by_month",
        _l("New subscribers by month"),
        _l("Month"),
        new,
        {m: _bucket_label(m, "month") for m in months},
        sum(new.values()),
        column_label=_l("New subscribers"),
    )
    by_language = reader.stock("subscribers")
    total = sum(by_language.values())
    language_table = _one_column(
        "subscribers_by_language",
        _l("Subscribers at the end of the period, by language"),
        _l("Language"),
        by_language,
        _language_labels(by_language),
        total,
        column_label=_l("Subscribers"),
    )
    by_department = reader.stock("subscriber_areas")
    labels = {ALL_DEPARTMENTS: _l("All of France")}
    labels.update({code: code for code in sorted(by_department) if code != ALL_DEPARTMENTS})
    department_table = _one_column(
        "subscribers_by_department",
        _l("Subscribers at the end of the period, by department followed"),
        _l("Department"),
        by_department,
        labels,
        total,
        additive=False,
        keep_zero=False,
        column_label=_l("Subscribers"),
    )
    department_table.row_label_is_code = True
    note = _l(
        "A subscriber counts from her validation until she unsubscribes; she may follow "
        "several departments."
    )
    return Section("subscribers", title, [new_table, language_table, department_table], note=note)


def _cases_section(scope: Scope, reader: _Reader) -> Section:
    case_model, need_model, referral_model, _transfer, structure_model = _case_models()
    title = _l("Follow-up of victims")
    if case_model is None:
        return Section("cases", title, available=False, note=_l("Not available yet."))
    from backoffice.models import case as case_module

    dimensions = ["case_state", "case_source", "case_need", "referral"]
    sums = {name: reader.sums(name) for name in dimensions}
    total = sum(sums["case_state"].values())
    tables = [
        _case_state_table(sums["case_state"], case_module),
        _one_column("cases_by_source", _l("Cases opened, by origin"), _l("Origin"),
                    sums["case_source"], case_module.CASE_SOURCES, total,
                    column_label=_l("Cases")),
    ]  # fmt: skip
    if need_model is not None:
        tables.append(
            _one_column("cases_by_need", _l("Cases opened, by need"), _l("Need"),
                        sums["case_need"], case_module.NEEDS, total, additive=False,
                        column_label=_l("Cases"))
        )  # fmt: skip
    measures: dict[str, list[Measure]] = {}
    note = None
    if getattr(case_model, "first_contact_at", None) is None:
        note = _l("Time to first contact: not available yet (cases record no first-contact date).")
    else:
        table, measure = _first_contact(reader, total)
        tables.append(table)
        measures[table.key] = [measure]
    if referral_model is not None and structure_model is not None:
        tables.append(_referrals_table(sums["referral"], case_module))
    return Section("cases", title, tables, measures, note=note)


def _case_state_table(counts: dict[str, int], module) -> Table:
    """Cases opened, by current status and outcome (an outcome exists once closed)."""
    pairs = {tuple(code.split("|", 1)): n for code, n in counts.items() if "|" in code}
    outcomes = {STILL_OPEN: _l("Still followed"), **module.CASE_OUTCOMES}
    outcome_codes = list(outcomes) + sorted({o for _s, o in pairs if o not in outcomes})
    statuses = list(module.CASE_STATUSES) + sorted(
        {s for s, _o in pairs if s not in module.CASE_STATUSES}
    )
    rows = [
        Row(s, module.CASE_STATUSES.get(s, s), [pairs.get((s, o), 0) for o in outcome_codes])
        for s in statuses
    ]
    return Table(
        key="cases_by_status",
        title=_l("Cases opened, by current status and outcome"),
        row_header=_l("Status"),
        columns=[Column(o, outcomes.get(o, o)) for o in outcome_codes],
        rows=rows,
        total=[sum(r.values[i] for r in rows) for i in range(len(outcome_codes))],
        row_totals=True,
    )


def _first_contact(reader: _Reader, cases: int) -> tuple[Table, Measure]:
    """Time from opening to the first contact (cases that record ``first_contact_at``)."""
    counts = reader.delay_buckets("first_contact_hours")
    counts[NOT_YET] = max(cases - sum(counts.values()), 0)
    labels = {code: label for code, label, _limit in DELAY_BUCKETS}
    labels[NOT_YET] = _l("No contact recorded yet")
    table = _one_column(
        "first_contact_delays",
        _l("Time from opening to first contact"),
        _l("Delay"),
        counts,
        labels,
        cases,
        column_label=_l("Cases"),
    )
    table.fixed_total = True
    median = reader.medians("first_contact_hours").get("__total__")
    measure = Measure(
        "median_first_contact_hours",
        _l("Median hours to first contact"),
        {"__total__": median},
        ("count",),
    )
    return table, measure


def _referrals_table(counts: dict[str, int], module) -> Table:
    from backoffice.models.structure import STRUCTURE_CATEGORIES

    pairs = {tuple(code.split("|", 1)): n for code, n in counts.items() if "|" in code}
    statuses = list(module.REFERRAL_STATUSES)
    statuses += sorted({s for _c, s in pairs if s not in statuses})
    categories = list(STRUCTURE_CATEGORIES)
    categories += sorted({c for c, _s in pairs if c not in categories})
    rows = [
        Row(c, STRUCTURE_CATEGORIES.get(c, c), [pairs.get((c, s), 0) for s in statuses])
        for c in categories
    ]
    return Table(
        key="referrals_by_structure",
        title=_l("Referrals by kind of structure and result"),
        row_header=_l("Kind of structure"),
        columns=[Column(s, module.REFERRAL_STATUSES.get(s, s)) for s in statuses],
        rows=rows,
        total=[sum(r.values[i] for r in rows) for i in range(len(statuses))],
        row_totals=True,
    )


def _outreach_section(scope: Scope) -> Section:
    title = _l("Virtual outreach rounds")
    try:
        from backoffice.services import outreach
    except ImportError:
        return Section("outreach", title, available=False, note=_l("Not available yet."))
    figures = getattr(outreach, "monthly_figures", None)
    names = getattr(outreach, "FIGURE_COLUMNS", None)
    if figures is None or names is None:
        return Section("outreach", title, available=False, note=_l("Not available yet."))
    # The outreach service counts per month and department in SQL; only the departments of a
    # month are added up here.
    per_month: dict[str, list[int]] = {}
    for item in figures(
        scope.period.start, scope.period.end, scope.organisation_id, scope.department
    ):
        sums = per_month.setdefault(str(item["month"]), [0] * len(names))
        for index, name in enumerate(names):
            sums[index] += int(item.get(name, 0) or 0)
    labels = {
        "sessions": _l("Rounds"),
        "messages": _l("Messages sent"),
        "replies": _l("Replies"),
        "calls": _l("Calls"),
        "registrations": _l("Registrations"),
        "referrals": _l("Referrals"),
    }
    months = _month_buckets(scope.period)
    rows = [Row(m, _bucket_label(m, "month"), per_month.get(m, [0] * len(names))) for m in months]
    table = Table(
        key="outreach_by_month",
        title=_l("Virtual outreach rounds by month"),
        row_header=_l("Month"),
        columns=[Column(n, labels.get(n, n)) for n in names],
        rows=rows,
        total=[sum(r.values[i] for r in rows) for i in range(len(names))],
    )
    return Section("outreach", title, [table])


def _key_figures(figures: Figures) -> list[KeyFigure]:
    period = figures.scope.period
    trend = next(t for t in figures.sections[0].tables if t.key.startswith("reports_by_"))
    reports = trend.total[0]
    items = [
        KeyFigure("reports", _l("Reports received"), reports),
        KeyFigure("reports_per_day", _l("Reports a day"), round(reports / period.days, 1),
                  kind="per_day", base=reports),
    ]  # fmt: skip
    delays = figures.table("moderation_delays")
    section = figures.section("moderation")
    if delays is not None and section is not None:
        measures = {m.code: m for m in section.measures.get("moderation_delays", [])}
        items.append(
            KeyFigure(
                "median_decision_hours",
                _l("Median hours to a decision"),
                measures["median_decision_hours"].values["__total__"],
                kind="hours",
                base=delays.total[0],
            )
        )
        items.append(KeyFigure("median_publication_hours", _l("Median hours to publication"),
                               measures["median_publication_hours"].values["__total__"],
                               kind="hours", base=delays.total[1]))  # fmt: skip
    alerts = figures.table("alerts_by_month")
    if alerts is not None:
        items.append(KeyFigure("alerts_published", _l("Alerts published"), alerts.total[0]))
    checks = figures.table("checks_by_month")
    if checks is not None:
        done = sum(checks.total)
        items.append(KeyFigure("checks", _l("Identifier checks"), done))
        items.append(KeyFigure("match_rate", _l("Checks with a match"),
                               _percent(checks.total[0], done), kind="percent",
                               base=checks.total[0]))  # fmt: skip
    language = figures.table("subscribers_by_language")
    new = figures.table("subscribers_new_by_month")
    if language is not None and new is not None:
        items.append(KeyFigure("subscribers", _l("Subscribers at the end"), language.total[0]))
        items.append(KeyFigure("subscribers_new", _l("New subscribers"), new.total[0]))
    cases = figures.table("cases_by_status")
    if cases is not None:
        items.append(KeyFigure("cases", _l("Cases opened"), sum(cases.total)))
    referrals = figures.table("referrals_by_structure")
    if referrals is not None:
        items.append(KeyFigure("referrals", _l("Referrals made"), sum(referrals.total)))
    return items


# --- what a viewer is shown ------------------------------------------------------------------


@dataclass
class ShownFigure:
    figure: KeyFigure
    text: str  # "1,234", "<5", "6.4", "—"
    hidden: bool


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
        key_figures=[_shown_key_figure(f, k) for f in figures.key_figures],
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


def _shown_key_figure(figure: KeyFigure, k: int | None) -> ShownFigure:
    if figure.kind == "count":
        value = suppression.shown_count(int(figure.value or 0), k)
        return ShownFigure(figure, format_number(value), isinstance(value, str))
    # A rate or a median resting on 1 to k-1 reports would describe them: not shown.
    hidden = k is not None and suppression.is_small(figure.base, k)
    if figure.value is None or hidden:
        return ShownFigure(figure, "—", hidden)
    return ShownFigure(figure, format_number(figure.value), False)


# Which chart belongs to which section (dashboard and PDF place them alike).
CHART_SECTIONS = {
    "trend": "reports",
    "violence_types": "reports",
    "regions": "reports",
    "delays": "moderation",
}


def charts_for(presented: Presented) -> dict[str, object]:
    """The SVG charts of a presentation, drawn from the figures as shown (hidden stays hidden)."""
    from backoffice.services import charts

    def point(label, value) -> charts.Point:
        number = value if isinstance(value, int | float) else None
        return charts.Point(str(label), number, format_number(value))

    def ranked(points: list) -> list:
        return sorted(points, key=lambda p: (p.value is None, -(p.value or 0)))

    result: dict[str, object] = {}
    trend = presented.tables.get(f"reports_by_{presented.figures.granularity}")
    if trend is not None:
        points = [point(row.label, cells[0]) for row, cells in trend.rows]
        result["trend"] = charts.line_chart("chart-trend", str(trend.table.title), points)
    types = presented.tables.get("reports_by_violence_type")
    if types is not None:
        points = ranked([point(row.label, cells[0]) for row, cells in types.rows if cells[0] != 0])
        if points:
            result["violence_types"] = charts.hbar_chart(
                "chart-types", str(types.table.title), points
            )
    places = presented.tables.get("reports_by_place")
    if places is not None:
        points = ranked([point(g.label, cells[0]) for g, cells in places.groups])
        result["regions"] = charts.hbar_chart("chart-regions", str(_l("Reports by region")), points)
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
        result["delays"] = charts.grouped_bars(
            "chart-delays", str(_l("Moderation delays (median hours)")), labels, series
        )
    return result


def format_number(value: int | float | str | None) -> str:
    """Numbers in the UI locale ("1 234", "6,4" in French); marks and None unchanged."""
    from flask_babel import format_decimal

    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return format_decimal(value, format="#,##0.0")
    return format_decimal(value, format="#,##0")


# --- entry points for views, the PDF, the command and the job --------------------------------


def dashboard(scope: Scope, viewer: Viewer, granularity: str = "month") -> Presented:
    """What the dashboard shows this viewer (suppressed unless it is her own organisation)."""
    return present(compute(scope, granularity), viewer.screen_threshold)


def for_export(scope: Scope, viewer: Viewer, granularity: str = "month") -> Presented:
    """Exports and PDFs are always suppressed, whoever asks."""
    return present(compute(scope, granularity), viewer.export_threshold)


def build_scheduled_reports(today: dt.date | None = None) -> list[int]:
    """The ``monthly_funder_report`` job: last month's report, and last year's in January.

    Built in French and in English; a report already built by the schedule for the same
    parameters is not built again (the job may run twice after a restart).
    """
    from backoffice.models.base import utcnow
    from reports_pdf import funder_report

    today = today or utcnow().date()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    periods = [Period.month(last_month_end.year, last_month_end.month)]
    if today.month == 1:
        periods.append(Period.year(today.year - 1))
    built: list[int] = []
    for period in periods:
        for language in funder_report.LANGUAGES:
            report = funder_report.build_scheduled(period, language)
            if report is not None:
                built.append(report.id)
    return built


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
    )


def _group_label(table: Table, code: str | None) -> object:
    return next((g.label for g in table.groups if g.code == code), code or "")


def export_keys(presented: Presented) -> list[str]:
    keys = [k for k in presented.tables if k != "reports_by_place"]
    if "reports_by_place" in presented.tables:
        keys += list(PLACE_VIEWS)
    return keys


def iter_rows(shown: suppression.ShownTable, part: str = "rows") -> Iterable[tuple[str, list]]:
    """(label, cells) lines of a shown table, for exports: rows, then the total row."""
    if part == "groups":
        lines = [(str(g.label), cells) for g, cells in shown.groups]
    else:
        lines = [(str(r.label), cells) for r, cells in shown.rows]
    yield from lines
    if shown.total is not None:
        yield str(_l("Total")), shown.total
