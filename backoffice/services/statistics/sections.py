"""Every figure of the dashboard and of the funder report, for one scope, laid out in sections.

Python only fills empty buckets, lays out tables and picks key figures; the counting is SQL
(``sources`` and ``reading``). Figures linked across tables are published so that one
suppression covers the relation: the moderation outcomes are grouped into "counted" (whose
subtotal is the reports received) and "not counted"; a case's status and outcome form one
table (an outcome exists once closed); the delay table shows medians only (its counts would
link to the outcomes); the checks by month and by kind pin their shared column totals.

Every section is always there: a model or column that an area renamed fails here, loudly,
rather than dropping a section of a funder report.
"""

from __future__ import annotations

from babel import Locale
from flask import has_app_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import IdentifierCheck
from backoffice.models import case as case_vocabulary
from backoffice.models.structure import STRUCTURE_CATEGORIES
from backoffice.services import outreach
from backoffice.services.statistics import rollup
from backoffice.services.statistics.figures import (
    NOT_GIVEN_LABEL,
    Figures,
    KeyFigure,
    Measure,
    Section,
    one_column,
)
from backoffice.services.statistics.periods import (
    GRANULARITIES,
    bucket_label,
    buckets,
    check_grouping,
    month_buckets,
)
from backoffice.services.statistics.reading import DELAY_LIMITS, Reader
from backoffice.services.statistics.sources import (
    ALERT_EVENTS,
    ALL_DEPARTMENTS,
    NOT_GIVEN,
    REPORT_DIMENSIONS,
    STILL_OPEN,
)
from backoffice.services.statistics.sql import bucket_of
from backoffice.services.statistics.viewers import Scope
from backoffice.services.suppression import Column, Group, Row, Table
from backoffice.services.vocabulary import (
    CHANNELS,
    IDENTIFIER_KINDS,
    REGIONS,
    REPORTER_RELATIONS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
)

# Moderation outcome of a report, from its current status.
OUTCOMES: dict[str, object] = {
    "alert": _l("Published or approved for an alert"),
    "recorded": _l("Recorded only (no alert)"),
    "rejected": _l("Rejected"),
    "merged": _l("Merged into another report"),
    "pending": _l("Awaiting a decision"),
}
COUNTED_OUTCOMES = ("alert", "recorded", "pending")
DELAY_LABELS: dict[str, object] = {
    "under_24h": _l("Within 24 hours"),
    "1_3_days": _l("1 to 3 days"),
    "3_7_days": _l("3 to 7 days"),
    "over_7_days": _l("More than 7 days"),
}
NOT_YET = "not_yet"
OUTREACH_LABELS: dict[str, object] = {
    "sessions": _l("Rounds"),
    "messages": _l("Messages sent"),
    "replies": _l("Replies"),
    "calls": _l("Calls"),
    "registrations": _l("Registrations"),
    "referrals": _l("Referrals"),
}


def compute(scope: Scope, granularity: str = "month", *, live: bool = False) -> Figures:
    """Every figure of the dashboard and of the funder report, for one scope.

    Programme-wide and one-department figures read the rollup (with the days changed since
    its refresh computed now); ``live=True`` computes them all from the records instead (the
    same SQL), which is what an organisation's figures always do. Writes nothing.
    """
    check_grouping(scope.period, granularity)
    reader = Reader(rollup.source_for(scope, live=live), scope.period)
    sections = [
        _reports_section(scope, granularity, reader),
        _moderation_section(scope, reader),
    ]
    if scope.organisation_id is None:
        sections += [_alerts_section(scope, reader), _checks_section(scope)]
    sections += [
        _subscribers_section(scope, reader),
        _cases_section(reader),
        _outreach_section(scope),
    ]
    figures = Figures(scope=scope, granularity=granularity, key_figures=[], sections=sections)
    figures.key_figures = _key_figures(figures)
    return figures


# --- reports ---------------------------------------------------------------------------------


def _reports_section(scope: Scope, granularity: str, reader: Reader) -> Section:
    period = scope.period
    sums = {name: reader.sums(name) for name in [*REPORT_DIMENSIONS, "violence_type"]}
    by_department = reader.reports_by("department")
    by_region = reader.reports_by("region")
    trend = reader.reports_by("trend", granularity)
    total = sum(by_department.values())
    trend_labels = {b: bucket_label(b, granularity) for b in buckets(period, granularity)}
    unit = str(GRANULARITIES[granularity]).lower()
    tables = [
        one_column(f"reports_by_{granularity}", _l("Reports received by %(unit)s", unit=unit),
                   GRANULARITIES[granularity], trend, trend_labels, total),
        one_column("reports_by_violence_type", _l("Reports by violence type"),
                   _l("Violence type"), sums["violence_type"], VIOLENCE_TYPES, total,
                   additive=False, column_label=_l("Reports")),
        _places_table(by_department, by_region, total),
        one_column("reports_by_work_context", _l("Reports by work context"), _l("Work context"),
                   sums["work_context"], {**WORK_CONTEXTS, NOT_GIVEN: NOT_GIVEN_LABEL}, total),
        one_column("reports_by_channel", _l("Reports by channel"), _l("Channel"),
                   sums["channel"], CHANNELS, total),
        one_column("reports_by_language", _l("Reports by language"), _l("Language"),
                   sums["language"], _language_labels(sums["language"]), total),
        one_column("reports_by_reporter_relation", _l("Reports by who sent them"),
                   _l("Sent by"), sums["reporter_relation"],
                   {**REPORTER_RELATIONS, NOT_GIVEN: NOT_GIVEN_LABEL}, total),
    ]  # fmt: skip
    if scope.department:
        # One department: the place table would only repeat the total.
        tables = [t for t in tables if t.key != "reports_by_place"]
    return Section("reports", _l("Reports"), tables)


def _language_labels(counts: dict[str, int]) -> dict[str, object]:
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


# --- moderation -------------------------------------------------------------------------------


def _moderation_section(scope: Scope, reader: Reader) -> Section:
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


def _delays(scope: Scope, reader: Reader) -> tuple[Table, list[Measure]]:
    decided = reader.monthly("decision_hours")
    published = reader.monthly("publication_hours")
    median_decided = reader.medians("decision_hours")
    median_published = reader.medians("publication_hours")
    months = month_buckets(scope.period)
    rows = [
        Row(m, bucket_label(m, "month"), [decided.get(m, 0), published.get(m, 0)]) for m in months
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


# --- alerts and identifier checks ---------------------------------------------------------------


def _alerts_section(scope: Scope, reader: Reader) -> Section:
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
    months = month_buckets(scope.period)
    rows = [
        Row(m, bucket_label(m, "month"), [counts.get((m, c.code), 0) for c in columns])
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
    months = month_buckets(scope.period)
    month_table = _matched_table(
        "checks_by_month", _l("Identifier checks by month"), _l("Month"), months,
        {m: bucket_label(m, "month") for m in months}, by_month, columns,
    )  # fmt: skip
    kind_table = _matched_table(
        "checks_by_kind", _l("Identifier checks by kind"), _l("Kind"), list(IDENTIFIER_KINDS),
        IDENTIFIER_KINDS, by_kind, columns,
    )  # fmt: skip
    measures = {}
    for table in (month_table, kind_table):
        values = {row.code: percent(row.values[0], sum(row.values)) for row in table.rows}
        values["__total__"] = percent(table.total[0], sum(table.total))
        measures[table.key] = [
            Measure("match_rate", _l("Match rate"), values, ("matched", "∑"), "percent")
        ]
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


def percent(part: int | None, whole: int | None) -> float | None:
    if not whole:
        return None
    return round(100.0 * (part or 0) / whole, 1)


# --- subscribers ---------------------------------------------------------------------------------


def _subscribers_section(scope: Scope, reader: Reader) -> Section:
    new = reader.monthly("subscribers_in")
    months = month_buckets(scope.period)
    new_table = one_column(
        "subscribers_new_by_month",
        _l("New subscribers by month"),
        _l("Month"),
        new,
        {m: bucket_label(m, "month") for m in months},
        sum(new.values()),
        column_label=_l("New subscribers"),
    )
    by_language = reader.stock("subscribers")
    total = sum(by_language.values())
    language_table = one_column(
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
    department_table = one_column(
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
    tables = [new_table, language_table, department_table]
    return Section("subscribers", _l("Subscribers"), tables, note=note)


# --- cases and referrals -------------------------------------------------------------------


def _cases_section(reader: Reader) -> Section:
    dimensions = ["case_state", "case_source", "case_need", "referral"]
    sums = {name: reader.sums(name) for name in dimensions}
    total = sum(sums["case_state"].values())
    first_contact, median = _first_contact(reader, total)
    tables = [
        _case_state_table(sums["case_state"]),
        one_column("cases_by_source", _l("Cases opened, by origin"), _l("Origin"),
                   sums["case_source"], case_vocabulary.CASE_SOURCES, total,
                   column_label=_l("Cases")),
        one_column("cases_by_need", _l("Cases opened, by need"), _l("Need"),
                   sums["case_need"], case_vocabulary.NEEDS, total, additive=False,
                   column_label=_l("Cases")),
        first_contact,
        _referrals_table(sums["referral"]),
    ]  # fmt: skip
    return Section("cases", _l("Follow-up of victims"), tables, {first_contact.key: [median]})


def _case_state_table(counts: dict[str, int]) -> Table:
    """Cases opened, by current status and outcome (an outcome exists once closed)."""
    return _crosstab(
        "cases_by_status",
        _l("Cases opened, by current status and outcome"),
        _l("Status"),
        counts,
        case_vocabulary.CASE_STATUSES,
        {STILL_OPEN: _l("Still followed"), **case_vocabulary.CASE_OUTCOMES},
    )


def _crosstab(key, title, row_header, counts, row_labels: dict, column_labels: dict) -> Table:
    """Counts coded "row|column" as a table with row totals: the known codes first (zeros
    too), then any other code found."""
    pairs = {tuple(code.split("|", 1)): n for code, n in counts.items() if "|" in code}
    row_codes = list(row_labels) + sorted({r for r, _c in pairs if r not in row_labels})
    column_codes = list(column_labels) + sorted({c for _r, c in pairs if c not in column_labels})
    rows = [
        Row(r, row_labels.get(r, r), [pairs.get((r, c), 0) for c in column_codes])
        for r in row_codes
    ]
    return Table(
        key=key,
        title=title,
        row_header=row_header,
        columns=[Column(c, column_labels.get(c, c)) for c in column_codes],
        rows=rows,
        total=[sum(r.values[i] for r in rows) for i in range(len(column_codes))],
        row_totals=True,
    )


def _first_contact(reader: Reader, cases: int) -> tuple[Table, Measure]:
    """Time from opening to the first contact (``Case.first_contact_at``)."""
    counts = reader.delay_buckets("first_contact_hours")
    counts[NOT_YET] = max(cases - sum(counts.values()), 0)
    labels = {code: DELAY_LABELS[code] for code, _limit in DELAY_LIMITS}
    labels[NOT_YET] = _l("No contact recorded yet")
    table = one_column(
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


def _referrals_table(counts: dict[str, int]) -> Table:
    return _crosstab(
        "referrals_by_structure",
        _l("Referrals by kind of structure and result"),
        _l("Kind of structure"),
        counts,
        STRUCTURE_CATEGORIES,
        case_vocabulary.REFERRAL_STATUSES,
    )


# --- outreach ----------------------------------------------------------------------------------


def _outreach_section(scope: Scope) -> Section:
    """Rounds and their outcomes by month, as the outreach service counts them in SQL (per
    month and department: only the departments of a month are added up here)."""
    names = list(outreach.FIGURE_COLUMNS)
    per_month: dict[str, list[int]] = {}
    for item in outreach.monthly_figures(
        scope.period.start, scope.period.end, scope.organisation_id, scope.department
    ):
        sums = per_month.setdefault(str(item["month"]), [0] * len(names))
        for index, name in enumerate(names):
            sums[index] += int(item[name])
    months = month_buckets(scope.period)
    rows = [Row(m, bucket_label(m, "month"), per_month.get(m, [0] * len(names))) for m in months]
    table = Table(
        key="outreach_by_month",
        title=_l("Virtual outreach rounds by month"),
        row_header=_l("Month"),
        columns=[Column(n, OUTREACH_LABELS[n]) for n in names],
        rows=rows,
        total=[sum(r.values[i] for r in rows) for i in range(len(names))],
    )
    return Section("outreach", _l("Virtual outreach rounds"), [table])


# --- key figures -------------------------------------------------------------------------------


def _key_figures(figures: Figures) -> list[KeyFigure]:
    period = figures.scope.period
    trend = next(t for t in figures.sections[0].tables if t.key.startswith("reports_by_"))
    reports = trend.total[0]
    delays = figures.table("moderation_delays")
    medians = {m.code: m for m in figures.section("moderation").measures["moderation_delays"]}
    items = [
        KeyFigure("reports", _l("Reports received"), reports, total_of=(trend.key, 0)),
        KeyFigure("reports_per_day", _l("Reports a day"), round(reports / period.days, 1),
                  kind="per_day", base=reports),
        KeyFigure("median_decision_hours", _l("Median hours to a decision"),
                  medians["median_decision_hours"].values["__total__"], kind="hours",
                  base=delays.total[0]),
        KeyFigure("median_publication_hours", _l("Median hours to publication"),
                  medians["median_publication_hours"].values["__total__"], kind="hours",
                  base=delays.total[1]),
    ]  # fmt: skip
    if figures.scope.organisation_id is None:  # alerts and checks belong to no organisation
        alerts = figures.table("alerts_by_month")
        checks = figures.table("checks_by_month")
        done = sum(checks.total)
        items += [
            KeyFigure("alerts_published", _l("Alerts published"), alerts.total[0],
                      total_of=("alerts_by_month", 0)),
            KeyFigure("checks", _l("Identifier checks"), done, total_of=(checks.key, "∑")),
            KeyFigure("match_rate", _l("Checks with a match"), percent(checks.total[0], done),
                      kind="percent", base=checks.total[0]),
        ]  # fmt: skip
    items += [
        KeyFigure("subscribers", _l("Subscribers at the end"),
                  figures.table("subscribers_by_language").total[0],
                  total_of=("subscribers_by_language", 0)),
        KeyFigure("subscribers_new", _l("New subscribers"),
                  figures.table("subscribers_new_by_month").total[0],
                  total_of=("subscribers_new_by_month", 0)),
        KeyFigure("cases", _l("Cases opened"), sum(figures.table("cases_by_status").total),
                  total_of=("cases_by_status", "∑")),
        KeyFigure("referrals", _l("Referrals made"),
                  sum(figures.table("referrals_by_structure").total),
                  total_of=("referrals_by_structure", "∑")),
    ]  # fmt: skip
    return items
