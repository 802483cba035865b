"""staff notices: one notice per rule, object and recipient; each user's settings; deliveries
to staff users through the outbox

Revision ID: 20261207_notify_1
Revises: 20261207_erasure_1
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_notify_1"
down_revision = "20261207_homes_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ab_user.id"],
            name=op.f("fk_staff_notices_user_id_ab_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_staff_notices_key")),
    )
    with op.batch_alter_table("staff_notices") as batch_op:
        batch_op.create_index("ix_staff_notices_user_read", ["user_id", "read_at"])
    op.create_table(
        "staff_notice_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("by_email", sa.Boolean(), nullable=False),
        sa.Column("by_sms", sa.Boolean(), nullable=False),
        sa.Column("phone_sealed", sa.String(length=400), nullable=True),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ab_user.id"],
            name=op.f("fk_staff_notice_settings_user_id_ab_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_notice_settings")),
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("staff_notice_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_staff_notice_id_staff_notices"),
            "staff_notices",
            ["staff_notice_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_deliveries_staff_notice_id"), ["staff_notice_id"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_staff_notice_id"), ["staff_notice_id", "channel"]
        )


def downgrade():
    op.execute("DELETE FROM deliveries WHERE staff_notice_id IS NOT NULL")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_deliveries_staff_notice_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_deliveries_staff_notice_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_staff_notice_id_staff_notices"), type_="foreignkey"
        )
        batch_op.drop_column("staff_notice_id")
    op.drop_table("staff_notice_settings")
    with op.batch_alter_table("staff_notices") as batch_op:
        batch_op.drop_index("ix_staff_notices_user_read")
    op.drop_table("staff_notices")
