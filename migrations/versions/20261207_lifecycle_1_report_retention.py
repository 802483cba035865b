"""report retention: when each rule of the retention schedule was applied to a report

``reports.contact_erased_at``, ``reports.testimony_shredded_at``, ``reports.coarsened_at``
(naive UTC): the job ``apply_retention`` (``services/retention.py``) marks the reports it
erased, shredded or coarsened, so a run is idempotent and an interrupted one resumes.

Plain ``ALTER TABLE`` on both databases, as in 0010 (no batch copy of ``reports``).

Revision ID: 20261207_lifecycle_1
Revises: 20261207_info_2
Create Date: 2026-12-07 10:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_lifecycle_1"
down_revision = "20261207_worker_3"
branch_labels = None
depends_on = None

COLUMNS = ("contact_erased_at", "testimony_shredded_at", "coarsened_at")


def upgrade():
    for name in COLUMNS:
        op.add_column("reports", sa.Column(name, sa.DateTime(), nullable=True))


def downgrade():
    for name in reversed(COLUMNS):
        op.drop_column("reports", name)
