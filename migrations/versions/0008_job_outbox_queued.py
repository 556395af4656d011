"""job outbox: a row handed to RQ stays, as 'queued', until its job finishes, so a job that vanished from
Redis (restart with an empty dataset, a worker killed mid-job) is found and sent again

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job_outbox') as batch_op:
        batch_op.drop_constraint(op.f('ck_job_outbox_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_job_outbox_status_valid'),
                                         "status IN ('pending', 'queued', 'failed')")
        batch_op.add_column(sa.Column('deliveries', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    # Queued rows become pending, so they are sent again: jobs are idempotent, and nothing is lost.
    op.execute("UPDATE job_outbox SET status = 'pending', locked_until = NULL WHERE status = 'queued'")
    with op.batch_alter_table('job_outbox') as batch_op:
        batch_op.drop_column('deliveries')
        batch_op.drop_constraint(op.f('ck_job_outbox_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_job_outbox_status_valid'), "status IN ('pending', 'failed')")
