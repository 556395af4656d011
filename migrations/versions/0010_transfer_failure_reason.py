"""transfers: the reason Stripe gave when a transfer failed (shown on the store's page, with Retry), and how
often Stripe refused it (each retry after a refusal needs a new idempotency key)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('transfers') as batch_op:
        batch_op.add_column(sa.Column('failure_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('refusals', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index(op.f('ix_transfers_status_store'), ['status', 'store_id'], unique=False)


def downgrade():
    with op.batch_alter_table('transfers') as batch_op:
        batch_op.drop_index(op.f('ix_transfers_status_store'))
        batch_op.drop_column('refusals')
        batch_op.drop_column('failure_reason')
