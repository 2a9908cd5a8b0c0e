"""lead imports from CSV files and their rows' outcomes

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

from persistence.models import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'imports',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=True),
        sa.Column('cadence', sa.String(length=100), nullable=True),
        sa.Column('columns', sa.JSON(), nullable=False),
        sa.Column('unknown_columns', sa.JSON(), nullable=False),
        sa.Column('warnings', sa.JSON(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('batch_size', sa.Integer(), nullable=False),
        sa.Column('start_interval_ms', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('created_by', sa.String(length=120), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('enrolled_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_imports_created_at', 'imports', ['created_at'])
    op.create_table(
        'import_rows',
        sa.Column('import_id', sa.String(length=32), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.Column('lead_id', sa.String(length=32), nullable=True),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['import_id'], ['imports.id']),
        sa.PrimaryKeyConstraint('import_id', 'row'),
    )
    op.create_index('ix_import_rows_import_status_row', 'import_rows', ['import_id', 'status', 'row'])


def downgrade() -> None:
    op.drop_index('ix_import_rows_import_status_row', table_name='import_rows')
    op.drop_table('import_rows')
    op.drop_index('ix_imports_created_at', table_name='imports')
    op.drop_table('imports')
