"""dashboard revenue index: paid orders by paid_at, covering what the revenue sums read

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PAID = "payment_status IN ('paid', 'partially_refunded')"


def upgrade():
    # Without it, "revenue today" and the 30-day chart scan every order (EXPLAIN at 1 M orders: parallel seq
    # scan, 170-200 ms); with it, an index-only range read of the window (under 1 ms today, ~30 ms 30 days).
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_paid_revenue', ['paid_at'], unique=False,
                              postgresql_where=sa.text(PAID), sqlite_where=sa.text(PAID),
                              postgresql_include=['id', 'currency', 'total_amount', 'refunded_amount'])


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_paid_revenue', postgresql_where=sa.text(PAID), sqlite_where=sa.text(PAID))
