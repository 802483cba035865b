"""subscribers and delivery outbox

Subscribers and their departments, the delivery outbox (one row per recipient, channel and
alert), the record that an alert's fan-out ran, partner associations' alert email, and
APScheduler's job store (the exact table ``SQLAlchemyJobStore`` defines; created here so
that no ``create_all`` ever runs against the application database).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 18:14:50.209145
"""

from alembic import op
import sqlalchemy as sa
import backoffice.models.base


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

def upgrade():
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'], unique=False)

    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=80), nullable=False),
    sa.Column('phone_sealed', backoffice.models.base.EncryptedText(), nullable=True),
    sa.Column('phone_index', sa.String(length=32), nullable=True),
    sa.Column('email_sealed', backoffice.models.base.EncryptedText(), nullable=True),
    sa.Column('email_index', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('all_departments', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('unsubscribe_salt', sa.String(length=32), nullable=False),
    sa.Column('unsubscribe_token_hash', sa.String(length=64), nullable=False),
    sa.Column('validated_at', sa.DateTime(), nullable=True),
    sa.Column('validated_by_id', sa.Integer(), nullable=True),
    sa.Column('paused_at', sa.DateTime(), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(), nullable=True),
    sa.Column('unsubscribe_source', sa.String(length=12), nullable=True),
    sa.Column('contact_erased_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('row_uid', sa.String(length=32), nullable=False),
    sa.Column('data_key_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], name=op.f('fk_subscribers_created_by_id_ab_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_subscribers_data_key_id_data_keys')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_subscribers_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['validated_by_id'], ['ab_user.id'], name=op.f('fk_subscribers_validated_by_id_ab_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('email_index', name=op.f('uq_subscribers_email_index')),
    sa.UniqueConstraint('phone_index', name=op.f('uq_subscribers_phone_index')),
    sa.UniqueConstraint('row_uid', name=op.f('uq_subscribers_row_uid')),
    sa.UniqueConstraint('unsubscribe_token_hash', name=op.f('uq_subscribers_unsubscribe_token_hash'))
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscribers_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscribers_status'), ['status'], unique=False)

    op.create_table('alert_dispatches',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_dispatches_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alert_dispatches'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('recipient_key', sa.String(length=24), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('error_code', sa.String(length=30), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=120), nullable=True),
    sa.Column('segments', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_deliveries_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('alert_id', 'recipient_key', 'channel', name=op.f('uq_deliveries_alert_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_deliveries_idempotency_key'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_alert_id_status', ['alert_id', 'status'], unique=False)
        batch_op.create_index('ix_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('subscriber_departments',
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriber_departments_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'department', name=op.f('pk_subscriber_departments'))
    )
    with op.batch_alter_table('subscriber_departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriber_departments_department'), ['department'], unique=False)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_email', sa.String(length=320), nullable=True))


def downgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('alert_email')

    with op.batch_alter_table('subscriber_departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriber_departments_department'))
    op.drop_table('subscriber_departments')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_subscriber_id'))
        batch_op.drop_index('ix_deliveries_status_next_attempt_at')
        batch_op.drop_index('ix_deliveries_alert_id_status')
    op.drop_table('deliveries')
    op.drop_table('alert_dispatches')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscribers_status'))
        batch_op.drop_index(batch_op.f('ix_subscribers_organisation_id'))
    op.drop_table('subscribers')
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apscheduler_jobs_next_run_time'))
    op.drop_table('apscheduler_jobs')
