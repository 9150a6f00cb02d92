"""automation runs once per event, e-mail retries and what was attached

Revision ID: 3c878b6d90ea
Revises: 2b3f0ef66369
Create Date: 2026-12-07 02:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c878b6d90ea'
down_revision = '2b3f0ef66369'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('automation_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_key', sa.String(length=100), nullable=False, server_default=''))
    # Runs from before the key each count as an event of their own.
    op.execute("UPDATE automation_run SET event_key = 'run-' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table('automation_run', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_automation_run_event', ['rule_id', 'order_id', 'event_key'])

    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pdf_sha256', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('run_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('run_step', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_email_log_run_id_automation_run', 'automation_run', ['run_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_email_log_run_id'), ['run_id'], unique=False)
        batch_op.create_unique_constraint('uq_email_log_run_step', ['run_id', 'run_step'])


def downgrade():
    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_email_log_run_step', type_='unique')
        batch_op.drop_index(batch_op.f('ix_email_log_run_id'))
        batch_op.drop_constraint('fk_email_log_run_id_automation_run', type_='foreignkey')
        batch_op.drop_column('run_step')
        batch_op.drop_column('run_id')
        batch_op.drop_column('attempts')
        batch_op.drop_column('pdf_sha256')

    with op.batch_alter_table('automation_run', schema=None) as batch_op:
        batch_op.drop_constraint('uq_automation_run_event', type_='unique')
        batch_op.drop_column('event_key')
