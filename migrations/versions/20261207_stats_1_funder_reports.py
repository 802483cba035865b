"""funder reports: ``built_reports`` becomes ``funder_reports``; the rollup is keyed by department

* The funder PDFs are "funder reports" everywhere in code: the table, its primary key, foreign
  key and indexes take that name. The rows are copied into the new table (ids kept, the
  PostgreSQL sequence moved past them) and the old one dropped, on both databases, so that
  every constraint carries its new name (SQLite keeps the names written in its DDL).
* The daily rollup now holds every dimension per department too; the rows it holds were
  written without them, so the bookkeeping row is reset and the next ``statistics_refresh``
  job rebuilds it (until then the figures are computed live, exact and slower).
* The days changed since the rollup's last refresh are computed when the figures are read:
  the alerts' event dates are indexed for that.

Revision ID: 20261207_stats_1
Revises: 0010
Create Date: 2026-12-07 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_stats_1"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = (
    "id, kind, period_start, period_end, language, department, parameters, trigger, status, "
    "progress, step, error, requested_by_id, requested_at, started_at, built_at, "
    "build_seconds, sha256, size_bytes, pdf"
)


def _create(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("built_at", sa.DateTime(), nullable=True),
        sa.Column("build_seconds", sa.Float(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["ab_user.id"],
            name=op.f(f"fk_{name}_requested_by_id_ab_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_requested_at", name, ["requested_at"], unique=False)
    op.create_index(op.f(f"ix_{name}_status"), name, ["status"], unique=False)


def _move(source: str, target: str) -> None:
    """Copy every row, ids included, then drop the source table."""
    _create(target)
    op.execute(f"INSERT INTO {target} ({COLUMNS}) SELECT {COLUMNS} FROM {source}")  # noqa: S608
    if op.get_bind().dialect.name == "postgresql":
        # The next id follows the copied ones (a serial column does not see explicit ids).
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{target}', 'id'), "  # noqa: S608
            f"coalesce((SELECT max(id) FROM {target}), 0) + 1, false)"
        )
    op.drop_index(op.f(f"ix_{source}_status"), table_name=source)
    op.drop_index(f"ix_{source}_requested_at", table_name=source)
    op.drop_table(source)


def _reset_rollup() -> None:
    op.execute("DELETE FROM statistics_daily")
    op.execute("UPDATE statistics_refresh SET rebuilt_at = NULL, refreshed_at = NULL")


ALERT_EVENTS = ("published_at", "retracted_at", "archived_at")


def upgrade():
    _move("built_reports", "funder_reports")
    _reset_rollup()
    for column in ALERT_EVENTS:
        op.create_index(f"ix_alerts_{column}", "alerts", [column], unique=False)


def downgrade():
    for column in ALERT_EVENTS:
        op.drop_index(f"ix_alerts_{column}", table_name="alerts")
    _move("funder_reports", "built_reports")
    _reset_rollup()
