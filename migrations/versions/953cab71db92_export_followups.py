"""export follow-ups: pending creation task, lookup and fetch attempts, stopped error

Revision ID: 953cab71db92
Revises: 648ab9fdfd24
Create Date: 2026-12-07 02:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '953cab71db92'
down_revision = '648ab9fdfd24'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('export', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_ref', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lookup_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('fetch_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('stopped_error', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('export', schema=None) as batch_op:
        batch_op.drop_column('stopped_error')
        batch_op.drop_column('fetch_attempts')
        batch_op.drop_column('lookup_attempts')
        batch_op.drop_column('pending_ref')
