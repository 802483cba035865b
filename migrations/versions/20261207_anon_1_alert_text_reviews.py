"""alert text reviews: the moderator's reviewed findings of the anonymisation assistant

Before an alert is published, its outgoing texts pass through the assistant; a finding blocks
publication until it is removed or marked reviewed with a reason. The reviews live on the
alert as a JSON list (blind-indexed keys, no clear value). Existing alerts get an empty list.

Revision ID: 20261207_anon_1
Revises: 20261207_core_1
Create Date: 2026-12-07 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_anon_1"
down_revision = "20261207_worker_2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("text_reviews", sa.JSON(), nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("text_reviews")
