"""ranking rules as data (versioned) and archived cadences

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

from persistence.models import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No rows are seeded: an empty table means the built-in defaults of domain/ranks.py apply.
    op.create_table(
        'ranking_versions',
        sa.Column('version', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('sources', sa.JSON(), nullable=False),
        sa.Column('cadences', sa.JSON(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('version'),
    )
    op.create_table(
        'cadence_archives',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('archived_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('cadence_archives')
    op.drop_table('ranking_versions')
