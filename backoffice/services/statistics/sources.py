"""The source rows: THE definition of every figure but the identifier checks and the outreach
rounds, counted in SQL.

``source_selects`` yields rows of (day, department, dimension, value, count), one ``GROUP BY``
per dimension over the scoped reports (read once, a materialised CTE), the moderation events
joined once, violence types unnested from their JSON list:

* **per department**: the reports (by their receipt day and department), their moderation
  (delays as histograms of whole hours, outcomes), the cases opened and the referrals made
  (by the case's department, ``NO_DEPARTMENT`` when it has none), alert events (once for each
  department of the alert) and subscriber arrivals and departures (once for each department
  she follows; ``FOLLOWS_ALL`` for those who follow all of France);
* **programme-wide** (``ALL_DEPARTMENTS``): alerts and subscribers have rows of their own (one
  alert or subscriber may cover several departments); every other dimension is additive over
  departments (a report or a case has one), and ``fill`` adds up its department rows.

Reading one department is then reading its rows (and ``FOLLOWS_ALL`` for subscribers); reading
the programme is reading ``ALL_DEPARTMENTS``. The rollup (``rollup``) holds these rows for
every day; a live computation (an organisation's figures) puts them in a temporary table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy import and_, case, cast, exists, func, not_, or_, select, true, union_all
from sqlalchemy.orm import aliased

from backoffice import security
from backoffice.extensions import db
from backoffice.models import (
    Alert,
    AlertDepartment,
    AlertReport,
    Case,
    CaseEvent,
    CaseNeed,
    CaseTransfer,
    Referral,
    Report,
    ReportEvent,
    Structure,
    Subscriber,
    SubscriberDepartment,
)
from backoffice.services.statistics.periods import Period
from backoffice.services.statistics.sql import (
    day_of,
    hours_between,
    json_items,
    materialised,
    sql_string,
    whole_hours,
)

Window = Callable[[object], object]  # a column -> the condition "in the window"

ALL_DEPARTMENTS = "*"
FOLLOWS_ALL = "+"  # the key of subscribers who follow all of France
NO_DEPARTMENT = ""  # a case that records no department: counted programme-wide only
NOT_GIVEN = ""
STILL_OPEN = "open"
SOURCE_COLUMNS = ("day", "department", "dimension", "value", "count")

DECISION_ACTIONS = ("approve", "reject", "merge", "record_only")
NOT_COUNTED_STATUSES = ("merged", "rejected")
# Moderation outcome of a report, from its current status ("pending" otherwise).
OUTCOME_OF_STATUS = {
    "approved": "alert",
    "published": "alert",
    "archived": "alert",
    "recorded": "recorded",
    "rejected": "rejected",
    "merged": "merged",
}
ALERT_EVENTS = {"published": "published_at", "retracted": "retracted_at", "expired": "archived_at"}

REPORT_DIMENSIONS = ("channel", "work_context", "language", "reporter_relation")
HISTOGRAMS = ("decision_hours", "publication_hours", "first_contact_hours")
SUBSCRIBER_DIMENSIONS = (
    "subscribers_in",
    "subscribers_out",
    "subscriber_areas_in",
    "subscriber_areas_out",
)
# Dimensions counted by value (what a report, a case or a referral is).
VALUE_DIMENSIONS = (
    *REPORT_DIMENSIONS,
    "violence_type",
    "outcome",
    "case_state",
    "case_source",
    "case_need",
    "referral",
)
# Dimensions whose programme-wide rows are the sums of their department rows.
ADDITIVE_DIMENSIONS = ("reports", *VALUE_DIMENSIONS, *HISTOGRAMS)


# --- windows: which days a fill covers --------------------------------------------------------


def period_window(period: Period) -> Window:
    return lambda column: and_(column >= period.starts_at, column < period.ends_before)


def days_window(days: Iterable[dt.date]) -> Window:
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


def everything(column):
    return column.is_not(None)


# --- filling a table with source rows ----------------------------------------------------------


def fill(
    table,
    window: Window,
    *,
    department: str | None = None,
    organisation_id: int | None = None,
    history: Window | None = None,
    days: Iterable[dt.date] | None = None,
) -> None:
    """Insert the source rows of ``window`` into ``table`` (the rollup or a temporary table).

    ``department`` keeps only what that department's figures need (no programme-wide rows);
    ``organisation_id`` only that organisation's rows. ``days``: the days filled, when the
    table holds other days too (the programme-wide sums must add up these days only).
    """
    selects = source_selects(window, department, organisation_id, history)
    columns = [table.c[name] for name in SOURCE_COLUMNS]
    db.session.execute(table.insert().from_select(columns, union_all(*selects)))
    if department is None:
        _add_programme_sums(table, days)


def _add_programme_sums(table, days: Iterable[dt.date] | None) -> None:
    c = table.c
    statement = select(
        c.day, sql_string(ALL_DEPARTMENTS), c.dimension, c.value, func.sum(c["count"])
    ).where(c.dimension.in_(ADDITIVE_DIMENSIONS), c.department != ALL_DEPARTMENTS)
    if days is not None:
        statement = statement.where(c.day.in_(sorted(set(days))))
    statement = statement.group_by(c.day, c.dimension, c.value)
    columns = [c[name] for name in SOURCE_COLUMNS]
    db.session.execute(table.insert().from_select(columns, statement))


def source_selects(
    window: Window,
    department: str | None,
    organisation_id: int | None,
    history: Window | None = None,
) -> list:
    """Every source row: reports received in ``window``, their moderation, alert events,
    cases opened and referrals made in it; subscriber arrivals and departures in ``history``
    (a stock needs every flow before the end of the period)."""
    actor = None if organisation_id is None else security.acting_for(organisation_id)
    scoped = _scoped_reports(window, department, actor)
    selects = _report_selects(scoped)
    selects += _moderation_selects(scoped)
    if actor is None:  # alerts belong to no organisation
        selects += _alert_selects(window, department)
    selects += _subscriber_selects(history or window, department, actor)
    selects += _case_selects(window, department, actor)
    return selects


def _counted(columns: dict[str, object], where: list, *, join=None) -> object:
    """``SELECT day, department, dimension, value, count(*) … GROUP BY`` the four labels.

    The labelled expressions are computed in an inner query and grouped by name outside, so
    PostgreSQL never has to match two spellings of one expression.
    """
    inner = select(*[expression.label(name) for name, expression in columns.items()])
    if join is not None:
        inner = join(inner)
    inner = inner.where(*where).subquery()
    keys = [inner.c[name] for name in SOURCE_COLUMNS[:-1]]
    return select(*keys, func.count().label("count")).group_by(*keys)


def _labels(day, department, dimension: str, value) -> dict[str, object]:
    return {
        "day": day,
        "department": department,
        "dimension": sql_string(dimension),
        "value": func.coalesce(cast(value, db.String), sql_string(NOT_GIVEN)),
    }


# --- reports and their moderation ---------------------------------------------------------------


def report_of_organisation(actor):
    """A report is an organisation's when it filed it or a case of its own follows it."""
    filed = Report.filing_organisation_id == security.organisation_of(actor)
    routed = exists().where(Case.report_id == Report.id, security.scope_condition(Case, actor))
    return or_(filed, routed)


def _scoped_reports(window: Window, department: str | None, actor):
    """The reports a figure may use (consent to statistics), read once for every part."""
    conditions = [Report.consent_statistics.is_(True), window(Report.received_at)]
    if department:
        conditions.append(Report.department == department)
    if actor is not None:
        conditions.append(report_of_organisation(actor))
    columns = ["id", "received_at", "department", "status", *REPORT_DIMENSIONS, "violence_types"]
    statement = select(*[getattr(Report, c) for c in columns]).where(*conditions)
    return materialised(statement.cte("scoped_reports"))


def _report_selects(scoped) -> list:
    """Counted reports (neither rejected nor merged) per day and department, in every
    dimension."""
    day = day_of(scoped.c.received_at)
    counted = [scoped.c.status.notin_(NOT_COUNTED_STATUSES)]
    place = scoped.c.department

    def from_scoped(inner):
        return inner.select_from(scoped)

    selects = [_counted(_labels(day, place, "reports", sql_string("")), counted, join=from_scoped)]
    for name in REPORT_DIMENSIONS:
        selects.append(
            _counted(_labels(day, place, name, scoped.c[name]), counted, join=from_scoped)
        )
    items = json_items(scoped.c.violence_types)
    selects.append(
        _counted(
            _labels(day, place, "violence_type", items.c.value),
            counted,
            join=lambda inner: inner.select_from(scoped).join(items, true()),
        )
    )
    return selects


def _moderation_selects(scoped) -> list:
    """Per receipt day: whole hours from receipt to the first decision and to the first
    publication (histograms, for medians), and every report by its moderation outcome.

    The events are read once, joined to the scoped reports."""
    decided = case((ReportEvent.action.in_(DECISION_ACTIONS), ReportEvent.occurred_at))
    published = case((ReportEvent.action == "publish", ReportEvent.occurred_at))
    firsts = materialised(
        select(
            scoped.c.received_at.label("received_at"),
            scoped.c.department.label("department"),
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
        .group_by(scoped.c.id, scoped.c.received_at, scoped.c.department, scoped.c.status)
        .cte("report_firsts")
    )
    day = day_of(firsts.c.received_at)
    place = firsts.c.department

    def from_firsts(inner):
        return inner.select_from(firsts)

    selects = []
    for dimension, column in (
        ("decision_hours", firsts.c.decided_at),
        ("publication_hours", firsts.c.published_at),
    ):
        hours = whole_hours(hours_between(firsts.c.received_at, column))
        selects.append(
            _counted(_labels(day, place, dimension, hours), [column.is_not(None)], join=from_firsts)
        )
    outcome = case(
        *[(firsts.c.status == status, sql_string(code)) for status, code in
          OUTCOME_OF_STATUS.items()],
        else_=sql_string("pending"),
    )  # fmt: skip
    selects.append(_counted(_labels(day, place, "outcome", outcome), [], join=from_firsts))
    return selects


# --- alerts ---------------------------------------------------------------------------------


def _alert_selects(window: Window, department: str | None) -> list:
    """Alert events per day: programme-wide, and once for each department of the alert."""
    # Backed by at least one report whose victim did not refuse statistics (the refused ones
    # are few and indexed: an anti-join, not a lookup per alert).
    refused = exists().where(
        Report.id == AlertReport.report_id, Report.consent_statistics.is_(False)
    )
    backed = exists().where(AlertReport.alert_id == Alert.id, not_(refused))
    # (alert, department) is unique: each alert counts once in each of its departments.
    in_place = [] if department is None else [AlertDepartment.department == department]
    selects = []
    for code, attribute in ALERT_EVENTS.items():
        column = getattr(Alert, attribute)
        where = [backed, column.is_not(None), window(column)]
        if code == "expired":
            where.append(Alert.status == "archived")
        day = day_of(column)
        if department is None:
            labels = _labels(day, sql_string(ALL_DEPARTMENTS), "alerts", sql_string(code))
            selects.append(_counted(labels, where))
        selects.append(
            _counted(
                _labels(day, AlertDepartment.department, "alerts", sql_string(code)),
                [*where, *in_place],
                join=lambda inner: inner.select_from(Alert).join(
                    AlertDepartment, AlertDepartment.alert_id == Alert.id
                ),
            )
        )
    return selects


# --- subscribers -------------------------------------------------------------------------------


def _subscriber_selects(window: Window, department: str | None, actor) -> list:
    """Registrations and departures per day: a stock at a date is the sum of flows before it.

    Two dimensions each way: by language, and by the departments followed (``*`` for all of
    France). Keyed by each department followed, ``FOLLOWS_ALL`` for all of France."""
    conditions = [Subscriber.validated_at.is_not(None)]
    if actor is not None:
        conditions.append(security.scope_condition(Subscriber, actor))
    key = aliased(SubscriberDepartment)
    other = aliased(SubscriberDepartment)
    selects = []
    for direction, column in (("in", Subscriber.validated_at), ("out", Subscriber.unsubscribed_at)):
        where = [*conditions, column.is_not(None), window(column)]
        day = day_of(column)
        people, areas = f"subscribers_{direction}", f"subscriber_areas_{direction}"
        if department is None:
            selects += _programme_subscribers(day, where, people, areas)
        everywhere = [*where, Subscriber.all_departments.is_(True)]
        follows_all = sql_string(FOLLOWS_ALL)
        selects.append(_counted(_labels(day, follows_all, people, Subscriber.language), everywhere))
        selects.append(
            _counted(_labels(day, follows_all, areas, sql_string(ALL_DEPARTMENTS)), everywhere)
        )
        chosen = [*where, Subscriber.all_departments.is_(False)]
        if department:
            chosen.append(key.department == department)
        selects.append(
            _counted(
                _labels(day, key.department, people, Subscriber.language),
                chosen,
                join=lambda inner: inner.select_from(Subscriber).join(
                    key, key.subscriber_id == Subscriber.id
                ),
            )
        )
        selects.append(
            _counted(
                _labels(day, key.department, areas, other.department),
                chosen,
                join=lambda inner: (
                    inner.select_from(Subscriber)
                    .join(key, key.subscriber_id == Subscriber.id)
                    .join(other, other.subscriber_id == Subscriber.id)
                ),
            )
        )
    return selects


def _programme_subscribers(day, where: list, people: str, areas: str) -> list:
    everywhere = sql_string(ALL_DEPARTMENTS)
    # What a subscriber follows: "*" for all of France, else each of her departments.
    followed = case(
        (Subscriber.all_departments.is_(True), sql_string(ALL_DEPARTMENTS)),
        else_=func.coalesce(SubscriberDepartment.department, sql_string(NOT_GIVEN)),
    )
    return [
        _counted(_labels(day, everywhere, people, Subscriber.language), where),
        _counted(
            _labels(day, everywhere, areas, followed),
            where,
            join=lambda inner: inner.select_from(Subscriber).outerjoin(
                SubscriberDepartment,
                and_(
                    SubscriberDepartment.subscriber_id == Subscriber.id,
                    Subscriber.all_departments.is_(False),
                ),
            ),
        ),
    ]


# --- cases and referrals -------------------------------------------------------------------


def _case_conditions(department: str | None, actor) -> list:
    """Cases counted: none that follows a report whose victim refused statistics."""
    refused = exists().where(Report.id == Case.report_id, Report.consent_statistics.is_(False))
    origin = aliased(Case)
    refused_origin = (
        exists()
        .where(CaseTransfer.to_case_id == Case.id)
        .where(origin.id == CaseTransfer.from_case_id)
        .where(Report.id == origin.report_id, Report.consent_statistics.is_(False))
    )
    conditions = [not_(refused), not_(refused_origin)]
    if actor is not None:
        conditions.append(security.scope_condition(Case, actor))
    else:
        # Programme-wide, a transferred case is the same person as the case it came from.
        conditions.append(Case.source != "transfer")
    if department:
        conditions.append(Case.department == department)
    return conditions


def _case_selects(window: Window, department: str | None, actor) -> list:
    conditions = _case_conditions(department, actor)
    opened = [*conditions, window(Case.opened_at)]
    day = day_of(Case.opened_at)
    place = func.coalesce(Case.department, sql_string(NO_DEPARTMENT))
    # Status and outcome together: a case has an outcome exactly when it is closed.
    state = Case.status.concat(sql_string("|")).concat(
        func.coalesce(Case.outcome, sql_string(STILL_OPEN))
    )
    hours = whole_hours(hours_between(Case.opened_at, Case.first_contact_at))
    kind = Structure.category.concat(sql_string("|")).concat(Referral.status)
    return [
        _counted(_labels(day, place, "case_state", state), opened),
        _counted(_labels(day, place, "case_source", Case.source), opened),
        _counted(
            _labels(day, place, "case_need", CaseNeed.need),
            opened,
            join=lambda inner: inner.select_from(Case).join(CaseNeed, CaseNeed.case_id == Case.id),
        ),
        _counted(
            _labels(day, place, "first_contact_hours", hours),
            [*opened, Case.first_contact_at.is_not(None)],
        ),
        _counted(
            _labels(day_of(Referral.created_at), place, "referral", kind),
            [*conditions, window(Referral.created_at)],
            join=lambda inner: (
                inner.select_from(Referral)
                .join(Case, Case.id == Referral.case_id)
                .join(Structure, Structure.id == Referral.structure_id)
            ),
        ),
    ]


# --- what changed: the days a refresh recomputes -------------------------------------------


def changed_days(since: dt.datetime) -> set[dt.date]:
    """Days whose source rows may have changed: those of rows updated since ``since``, and
    those of the alerts, cases and referrals that follow a report updated since (whether they
    count depends on the report's consent)."""
    changed_reports = select(Report.id).where(Report.updated_at >= since)
    followed = Case.report_id.in_(changed_reports)
    statements = [
        select(day_of(Report.received_at)).where(Report.updated_at >= since),
        select(day_of(Case.opened_at)).where(Case.updated_at >= since),
        select(day_of(Case.opened_at)).where(followed),
        # Needs and statuses change through the case service, which writes a case event.
        select(day_of(Case.opened_at))
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.occurred_at >= since),
        select(day_of(Referral.created_at)).where(Referral.updated_at >= since),
        select(day_of(Referral.created_at)).join(Case, Case.id == Referral.case_id).where(followed),
    ]
    for column in (Subscriber.validated_at, Subscriber.unsubscribed_at):
        statements.append(
            select(day_of(column)).where(Subscriber.updated_at >= since, column.is_not(None))
        )
    backing = select(AlertReport.alert_id).where(AlertReport.report_id.in_(changed_reports))
    for attribute in ALERT_EVENTS.values():
        column = getattr(Alert, attribute)
        for which in (Alert.updated_at >= since, Alert.id.in_(backing)):
            statements.append(select(day_of(column)).where(which, column.is_not(None)))
    days: set[dt.date] = set()
    for statement in statements:
        days |= {_as_date(d) for d in db.session.scalars(statement.distinct())}
    return days


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
