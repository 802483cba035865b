"""home page indexes: what each role's home page counts and lists, read by index

* ``reports (status, severity)``: waiting reports counted by severity from the index alone;
* ``reports (status, received_at)``: the oldest waiting reports first;
* ``report_events (action, report_id, occurred_at)``: the answers received (``info_added``)
  without reading every event;
* ``cases (organisation_id, status, opened_at)``: an association's new cases, newest first;
* ``case_actions (organisation_id, done_at, due_on)``: an association's overdue actions.

``bench/home_pages.py`` measures the pages at 100,000 reports and 50,000 cases.

Revision ID: 20261207_homes_1
Revises: 20261207_erasure_1
Create Date: 2026-12-07 14:30:00
"""

from alembic import op

revision = "20261207_homes_1"
down_revision = "20261207_erasure_1"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_reports_status_severity", "reports", ["status", "severity"]),
    ("ix_reports_status_received", "reports", ["status", "received_at"]),
    ("ix_report_events_action_report", "report_events", ["action", "report_id", "occurred_at"]),
    ("ix_cases_organisation_status_opened", "cases", ["organisation_id", "status", "opened_at"]),
    (
        "ix_case_actions_organisation_open_due",
        "case_actions",
        ["organisation_id", "done_at", "due_on"],
    ),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
