"""The migration that renames ``built_reports`` to ``funder_reports`` keeps every report built
(ids, PDFs, parameters, who asked) and gives back the same rows on the way down; it resets the
rollup, whose rows it cannot turn into the new ones, so that the next job rebuilds it.

Run on a database of its own (the session's is already at the head), on the run's backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    LargeBinary,
    String,
    bindparam,
    column,
    inspect,
    select,
    table,
    text,
)

from backoffice.extensions import db
from tests.conftest import make_app, own_database

BEFORE = "0010"
AFTER = "20261207_stats_1"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40  # binary, with every byte value

REPORTS = [
    # id, status, language, department, parameters, pdf, by the user
    (7, "done", "fr", None, {"start": "2025-01-01", "threshold": 5}, PDF, True),
    (8, "failed", "en", "75", {"start": "2025-02-01", "scope": "programme"}, None, False),
    (12, "running", "fr", "971", {}, None, True),
]


@pytest.fixture
def migration_app(tmp_path, test_keyring):
    with own_database(tmp_path) as url:
        application = make_app(url, test_keyring, tmp_path)
        try:
            yield application
        finally:
            with application.app_context():
                db.session.remove()
                db.engine.dispose()


def _insert_built_reports() -> None:
    db.session.execute(
        text(
            "INSERT INTO ab_user (id, first_name, last_name, username, email, active, "
            "session_token) VALUES (41, 'Co', 'Ordinator', 'migration-co', 'co@example.org', "
            ":yes, 'token')"
        ),
        {"yes": True},
    )
    for report_id, status, language, department, parameters, pdf, by_user in REPORTS:
        db.session.execute(
            text(
                "INSERT INTO built_reports (id, kind, period_start, period_end, language, "
                "department, parameters, trigger, status, progress, requested_by_id, "
                "requested_at, sha256, size_bytes, pdf) VALUES (:id, 'funder', :start, :end, "
                ":language, :department, :parameters, 'request', :status, 100, :user, :at, "
                ":sha, :size, :pdf)"
            ).bindparams(bindparam("parameters", type_=JSON)),
            {
                "id": report_id,
                "start": dt.date(2025, 1, 1),
                "end": dt.date(2025, 1, 31),
                "language": language,
                "department": department,
                "parameters": parameters,
                "status": status,
                "user": 41 if by_user else None,
                "at": dt.datetime(2025, 2, 1, 4, report_id),
                "sha": hashlib.sha256(pdf).hexdigest() if pdf else None,
                "size": len(pdf) if pdf else None,
                "pdf": pdf,
            },
        )
    db.session.execute(
        text(
            "INSERT INTO statistics_daily (day, department, dimension, value, count) "
            "VALUES (:day, '*', 'channel', 'web', 3)"
        ),
        {"day": dt.date(2025, 1, 2)},
    )
    db.session.execute(
        text("UPDATE statistics_refresh SET rebuilt_at = :at, refreshed_at = :at"),
        {"at": dt.datetime(2025, 2, 1, 2)},
    )
    db.session.commit()


def _rows(name: str) -> list[tuple]:
    reports = table(
        name,
        column("id", Integer),
        column("status", String),
        column("language", String),
        column("department", String),
        column("parameters", JSON),
        column("pdf", LargeBinary),
        column("requested_by_id", Integer),
        column("requested_at", DateTime),
        column("sha256", String),
    )
    statement = select(*reports.c).order_by(reports.c.id)
    return [tuple(row) for row in db.session.execute(statement)]


def _expected() -> list[tuple]:
    return [
        (
            report_id,
            status,
            language,
            department,
            parameters,
            pdf,
            41 if by_user else None,
            dt.datetime(2025, 2, 1, 4, report_id),
            hashlib.sha256(pdf).hexdigest() if pdf else None,
        )
        for report_id, status, language, department, parameters, pdf, by_user in REPORTS
    ]


def _rollup_state() -> tuple:
    daily = db.session.scalar(text("SELECT count(*) FROM statistics_daily"))
    refresh = db.session.execute(text("SELECT rebuilt_at, refreshed_at FROM statistics_refresh"))
    return daily, [tuple(row) for row in refresh]


def test_the_rename_keeps_every_funder_report_both_ways(migration_app):
    with migration_app.app_context():
        upgrade(revision=BEFORE)
        _insert_built_reports()
        upgrade(revision=AFTER)
        db.session.remove()
        tables = set(inspect(db.engine).get_table_names())
        assert "funder_reports" in tables and "built_reports" not in tables
        assert _rows("funder_reports") == _expected()
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("funder_reports")}
        assert indexes == {"ix_funder_reports_requested_at", "ix_funder_reports_status"}
        # The rollup was written without department rows: emptied, and rebuilt by the next job.
        assert _rollup_state() == (0, [(None, None)])
        # A new report takes the next id, after the copied ones.
        db.session.execute(
            text(
                "INSERT INTO funder_reports (kind, period_start, period_end, language, "
                "parameters, trigger, status, progress, requested_at) VALUES ('funder', "
                ":day, :day, 'fr', '{}', 'request', 'queued', 0, :at)"
            ),
            {"day": dt.date(2025, 3, 1), "at": dt.datetime(2025, 3, 1)},
        )
        assert db.session.scalar(text("SELECT max(id) FROM funder_reports")) == 13
        # The user who asked can still be deleted: her reports stay, without her.
        db.session.execute(text("DELETE FROM ab_user WHERE id = 41"))
        orphans = "SELECT count(*) FROM funder_reports WHERE requested_by_id IS NULL"
        assert db.session.scalar(text(orphans)) == 4
        db.session.rollback()

        downgrade(revision=BEFORE)
        db.session.remove()
        tables = set(inspect(db.engine).get_table_names())
        assert "built_reports" in tables and "funder_reports" not in tables
        assert _rows("built_reports") == _expected()
        db.session.remove()
