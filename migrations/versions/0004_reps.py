"""reps with territories, ranks, away and backup; SLA escalations of tasks

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from persistence.models import UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reps',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=True),
        sa.Column('territories', sa.JSON(), nullable=False),
        sa.Column('ranks', sa.JSON(), nullable=False),
        sa.Column('away', sa.Boolean(), nullable=False),
        sa.Column('backup_id', sa.String(length=64), nullable=True),
        sa.Column('last_turn', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['backup_id'], ['reps.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('email'),
    )
    op.create_index('ix_reps_team', 'reps', ['team'])
    op.create_table(
        'task_escalations',
        sa.Column('task_id', sa.String(length=120), nullable=False),
        sa.Column('from_owner', sa.String(length=64), nullable=True),
        sa.Column('to_owner', sa.String(length=64), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id']),
        sa.PrimaryKeyConstraint('task_id'),
    )


def downgrade() -> None:
    op.drop_table('task_escalations')
    op.drop_index('ix_reps_team', table_name='reps')
    op.drop_table('reps')
