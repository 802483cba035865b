"""alert versions: corrections and strengthenings of a published alert keep its history

``alert_versions`` keeps each superseded version of a published alert (texts, severity, the
identifiers it published, sealed with the root key), who changed it, when and what changed.
``deliveries.alert_version`` says which version a message carries, so that the notice of a
correction goes once to each recipient of the alert: the unique (alert, recipient, channel)
becomes (alert, version, recipient, channel). Existing deliveries carry version 1.

Revision ID: 20261207_versions_1
Revises: 20261207_erasure_1
"""

import sqlalchemy as sa
from alembic import op

import backoffice.models.base

revision = "20261207_versions_1"
down_revision = "20261207_notify_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "alert_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("identifiers_sealed", backoffice.models.base.EncryptedText(), nullable=True),
        sa.Column("row_uid", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("notices", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_versions_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["ab_user.id"],
            name=op.f("fk_alert_versions_superseded_by_id_ab_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_versions")),
        sa.UniqueConstraint("alert_id", "number", name=op.f("uq_alert_versions_alert_id")),
        sa.UniqueConstraint("row_uid", name=op.f("uq_alert_versions_row_uid")),
    )
    with op.batch_alter_table("alert_versions") as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_versions_alert_id"), ["alert_id"], unique=False)
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(
            sa.Column("alert_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.drop_constraint("uq_deliveries_alert_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_deliveries_alert_id", ["alert_id", "alert_version", "recipient_key", "channel"]
        )


def downgrade():
    op.execute("DELETE FROM deliveries WHERE alert_version <> 1")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_constraint("uq_deliveries_alert_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_deliveries_alert_id", ["alert_id", "recipient_key", "channel"]
        )
        batch_op.drop_column("alert_version")
    with op.batch_alter_table("alert_versions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_versions_alert_id"))
    op.drop_table("alert_versions")
