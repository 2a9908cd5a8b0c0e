"""email provider events: delivery, opens and clicks on touches; a deduplicated event log

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

from persistence.models import UTCDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('touches') as batch_op:
        batch_op.add_column(sa.Column('delivery', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('opens', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('clicks', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'provider_events',
        sa.Column('id', sa.String(length=200), nullable=False),
        sa.Column('type', sa.String(length=30), nullable=False),
        sa.Column('lead_id', sa.String(length=32), nullable=True),
        sa.Column('touch_id', sa.String(length=120), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('effect', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_provider_events_lead_id', 'provider_events', ['lead_id'])


def downgrade() -> None:
    op.drop_index('ix_provider_events_lead_id', table_name='provider_events')
    op.drop_table('provider_events')
    with op.batch_alter_table('touches') as batch_op:
        batch_op.drop_column('clicks')
        batch_op.drop_column('opens')
        batch_op.drop_column('delivery')
