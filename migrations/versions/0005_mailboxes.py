"""mailboxes with daily and hourly caps and a ramp; the sends counted against them

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

from persistence.models import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mailboxes',
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('daily_cap', sa.Integer(), nullable=True),
        sa.Column('hourly_cap', sa.Integer(), nullable=True),
        sa.Column('ramp', sa.JSON(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('email'),
    )
    op.create_table(
        'mailbox_sends',
        sa.Column('touch_id', sa.String(length=120), nullable=False),
        sa.Column('mailbox', sa.String(length=320), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['mailbox'], ['mailboxes.email']),
        sa.PrimaryKeyConstraint('touch_id'),
    )
    op.create_index('ix_mailbox_sends_mailbox_at', 'mailbox_sends', ['mailbox', 'at'])


def downgrade() -> None:
    op.drop_index('ix_mailbox_sends_mailbox_at', table_name='mailbox_sends')
    op.drop_table('mailbox_sends')
    op.drop_table('mailboxes')
