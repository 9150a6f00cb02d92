"""bulk run planned count, document list index

A bulk export run stores how many documents it will write rows for before it writes the first
(the progress bar's maximum). The module's export list walks the merchant's documents newest
first after a cursor (with their export, if any): (merchant_id, id) makes a page a short index
range.

Revision ID: 648ab9fdfd24
Revises: 3c878b6d90ea
Create Date: 2026-12-07 02:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '648ab9fdfd24'
down_revision = '3c878b6d90ea'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bulk_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned', sa.Integer(), nullable=True))

    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index('ix_document_merchant_id_id', ['merchant_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index('ix_document_merchant_id_id')

    with op.batch_alter_table('bulk_run', schema=None) as batch_op:
        batch_op.drop_column('planned')
