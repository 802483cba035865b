"""sign-in security: growing delays, server-side sessions, second factor state

* ``login_throttles`` replaces the hard lock (``ab_user.locked_until`` is dropped): failed
  sign-ins per (username, client address).
* ``staff_sessions``: one row per signed-in browser (token and user-agent hashes).
* ``recovery_codes``: hashes of the second factor's single-use recovery codes.
* ``ab_user.totp_pending_secret`` (sealed, the enrolment in progress) and
  ``ab_user.totp_last_step`` (a TOTP code is accepted once).

Plain ``ADD/DROP COLUMN`` on ``ab_user``, no batch copy: rebuilding it on SQLite (foreign
keys on) would break every table that refers to users.

Revision ID: 20261207_login_1
Revises: 20261207_core_1
Create Date: 2026-12-07 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_login_1"
down_revision = "20261207_grants_2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "address", name="uq_login_throttles_key"),
    )
    op.create_index(
        op.f("ix_login_throttles_last_failure_at"), "login_throttles", ["last_failure_at"]
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_agent_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"])
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["ab_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])
    op.add_column("ab_user", sa.Column("totp_pending_secret", sa.String(400), nullable=True))
    op.add_column("ab_user", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.drop_column("ab_user", "locked_until")


def downgrade():
    op.add_column("ab_user", sa.Column("locked_until", sa.DateTime(), nullable=True))
    op.drop_column("ab_user", "totp_last_step")
    op.drop_column("ab_user", "totp_pending_secret")
    op.drop_index(op.f("ix_recovery_codes_user_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_index(op.f("ix_staff_sessions_user_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_index(op.f("ix_login_throttles_last_failure_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
