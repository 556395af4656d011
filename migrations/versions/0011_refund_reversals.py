"""refund reversals: each store's share of a refund taken back from its transfer (or cut from it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('refund_reversals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stripe_reversal_id', sa.String(length=255), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'done', 'netted', 'failed', 'debt')",
                       name=op.f('ck_refund_reversals_status_valid')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_refund_reversals_amount_positive')),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_refund_reversals_refund_id_refunds'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_refund_reversals_store_id_stores'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'],
                            name=op.f('fk_refund_reversals_transfer_id_transfers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_reversals')),
    sa.UniqueConstraint('refund_id', 'store_id', name=op.f('uq_refund_reversals_refund_id_store_id')),
    sa.UniqueConstraint('stripe_reversal_id', name=op.f('uq_refund_reversals_stripe_reversal_id'))
    )
    with op.batch_alter_table('refund_reversals') as batch_op:
        batch_op.create_index(op.f('ix_refund_reversals_store_id'), ['store_id'], unique=False)
        batch_op.create_index(op.f('ix_refund_reversals_transfer_id'), ['transfer_id'], unique=False)


def downgrade():
    op.drop_table('refund_reversals')
