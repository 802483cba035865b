"""SQL building blocks of the statistics, written once for SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import case, cast, func, literal_column

from backoffice.extensions import db
from backoffice.services.vocabulary import REGIONS


def postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def sql_string(value: str):
    """A constant written into the SQL text (not a bound parameter).

    PostgreSQL matches a ``GROUP BY`` expression with the selected one only when they are
    written identically; two bound parameters holding the same pattern are not.
    """
    return literal_column("'" + value.replace("'", "''") + "'")


def bucket_of(column, granularity: str):
    """The text label of the day, week (its Monday), month or year of a date or timestamp."""
    if postgres():
        if granularity == "week":
            week = func.date_trunc(sql_string("week"), column)
            return func.to_char(week, sql_string("YYYY-MM-DD"))
        pattern = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[granularity]
        return func.to_char(column, sql_string(pattern))
    if granularity == "week":
        return func.strftime(
            sql_string("%Y-%m-%d"), column, sql_string("weekday 0"), sql_string("-6 days")
        )
    pattern = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[granularity]
    return func.strftime(sql_string(pattern), column)


def hours_between(start, end):
    if postgres():
        return func.date_part(sql_string("epoch"), end - start) / 3600.0
    # Whole seconds: julianday() differences are floats, and 10 h came out as 9.99999… h.
    seconds = func.strftime(sql_string("%s"), end) - func.strftime(sql_string("%s"), start)
    return seconds / 3600.0


def whole_hours(expression):
    """Whole hours, never negative (a clock skew must not give a negative delay)."""
    if postgres():
        return cast(func.greatest(func.floor(expression), literal_column("0")), db.Integer)
    return cast(func.max(expression, literal_column("0")), db.Integer)


def day_of(column):
    """The UTC day of a timestamp, as a date on both databases."""
    if postgres():
        return cast(column, db.Date)
    return func.date(column)


def region_of_department(column):
    """The region (2016 boundaries) of a department code, as a SQL ``CASE``."""
    whens = [
        (column.in_([sql_string(d) for d in departments]), sql_string(name))
        for name, departments in REGIONS.items()
    ]
    return case(*whens, else_=sql_string(""))


def json_items(column):
    """The elements of a JSON list column as rows (``value``), per dialect."""
    if postgres():
        return func.json_array_elements_text(column).table_valued("value").lateral()
    return func.json_each(column).table_valued("value")


def materialised(cte):
    """PostgreSQL would inline a CTE read by several parts of the union: compute it once."""
    return cte.prefix_with("MATERIALIZED", dialect="postgresql")
