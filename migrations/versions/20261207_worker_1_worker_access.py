"""worker access: self-registration codes, worker tokens, discreet mode, referral codes

Revision ID: 20261207_worker_1
Revises: 20261207_core_1
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_worker_1"
down_revision = "20261207_seal_3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pending_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_index", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=5), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("all_departments", sa.Boolean(), nullable=False),
        sa.Column("discreet", sa.Boolean(), nullable=False),
        sa.Column("referred_by_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referred_by_id"],
            ["organisations.id"],
            name=op.f("fk_pending_registrations_referred_by_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_pending_registrations_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_registrations")),
    )
    with op.batch_alter_table("pending_registrations") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_registrations_contact_index"), ["contact_index"]
        )
        batch_op.create_index(batch_op.f("ix_pending_registrations_expires_at"), ["expires_at"])
    op.create_table(
        "worker_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_worker_tokens_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_worker_tokens_token_hash")),
    )
    with op.batch_alter_table("worker_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_tokens_subscriber_id"), ["subscriber_id"])
    with op.batch_alter_table("subscribers") as batch_op:
        batch_op.add_column(
            sa.Column("discreet", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("channel", sa.String(length=5), nullable=True))
    # A unique index, not a constraint: SQLite adds it without rebuilding organisations.
    op.add_column("organisations", sa.Column("referral_code", sa.String(length=40), nullable=True))
    op.create_index(
        "uq_organisations_referral_code", "organisations", ["referral_code"], unique=True
    )


def downgrade():
    op.drop_index("uq_organisations_referral_code", table_name="organisations")
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("referral_code")
    with op.batch_alter_table("subscribers") as batch_op:
        batch_op.drop_column("channel")
        batch_op.drop_column("discreet")
    op.drop_table("worker_tokens")
    op.drop_table("pending_registrations")
