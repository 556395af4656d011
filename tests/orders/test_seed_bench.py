"""seed-bench: a consistent data set on both databases, and the app keeps inserting after it."""
from __future__ import annotations

from sqlalchemy import func, select

from covet.accounts.models import User
from covet.catalog.models import Variant
from covet.dbtypes import utcnow
from covet.orders.models import (
    FULFILMENT_STATUSES,
    ORDER_STATES,
    PAYMENT_STATUSES,
    Customer,
    Order,
    OrderLine,
    OrderTag,
)
from covet.orders.seed_bench import order_status, seed_bench
from covet.payments.models import Payment
from covet.stores.models import Store

ORDERS = 2_000


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_bench_builds_a_consistent_data_set(app, db, make_store):
    existing = make_store("maison", currency="eur")
    messages = []
    made = seed_bench(ORDERS, seed=7, batch=700, progress=messages.append)  # three batches, the last one short

    assert made["orders"] == _count(db, Order) == ORDERS
    assert ORDERS <= made["lines"] == _count(db, OrderLine) <= 4 * ORDERS
    assert 0.2 * ORDERS < made["customers"] == _count(db, Customer) < 0.4 * ORDERS
    assert _count(db, Store) == 20 and db.session.get(Store, existing.id).slug == "maison"
    assert 200 <= _count(db, Variant) <= 700
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email.like("bench-staff-%"))) == 6
    assert any(m.startswith("orders 2,000/2,000") for m in messages)

    line_sums = select(OrderLine.order_id, func.sum(OrderLine.unit_price_amount * OrderLine.quantity).label("s")) \
        .group_by(OrderLine.order_id).subquery()
    mismatched = db.session.scalar(select(func.count()).select_from(Order)
                                   .outerjoin(line_sums, line_sums.c.order_id == Order.id)
                                   .where((line_sums.c.s.is_(None)) | (line_sums.c.s != Order.total_amount)))
    assert mismatched == 0
    assert db.session.scalar(select(func.count(func.distinct(Order.number)))) == ORDERS

    shapes = db.session.execute(select(Order.payment_status, Order.fulfilment_status, Order.state, func.count())
                                .group_by(Order.payment_status, Order.fulfilment_status, Order.state)).all()
    assert {p for p, _, _, _ in shapes} <= set(PAYMENT_STATUSES)
    assert {f for _, f, _, _ in shapes} <= set(FULFILMENT_STATUSES)
    assert {s for _, _, s, _ in shapes} <= set(ORDER_STATES)
    by_shape = {(p, f, s): n for p, f, s, n in shapes}
    assert by_shape[("paid", "fulfilled", "closed")] > ORDERS / 3  # the bulk: old, shipped, closed
    assert by_shape.get(("unpaid", "unfulfilled", "cancelled"), 0) > 0

    paid = db.session.scalar(select(func.count()).select_from(Order)
                             .where(Order.payment_status.in_(("paid", "partially_refunded", "refunded"))))
    succeeded = db.session.scalar(select(func.count()).select_from(Payment).where(Payment.status == "succeeded"))
    assert paid == succeeded > 0
    assert db.session.scalar(select(func.count()).select_from(Order)
                             .where(Order.payment_status == "paid", Order.paid_at.is_(None))) == 0
    tagged = db.session.scalar(select(func.count(func.distinct(OrderTag.order_id))))
    assert 0.02 * ORDERS < tagged < 0.09 * ORDERS
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.assignee_id.is_not(None))) > 0
    assert db.session.scalar(select(func.min(Order.created_at))) < utcnow().replace(year=utcnow().year - 1)


def test_the_app_inserts_after_seeding(app, db):
    """Sequences were moved past the copied ids: new rows of every seeded table insert."""
    seed_bench(300, seed=3, batch=100)
    store = db.session.scalar(select(Store).order_by(Store.id))
    variant = db.session.scalar(select(Variant).where(Variant.store_id == store.id))
    customer = Customer(email="new.buyer@example.test", name="New Buyer")
    order = Order(number="CV-NEW00001", customer=customer, email=customer.email, currency=store.currency,
                  total_amount=variant.price_amount, subtotal_amount=variant.price_amount,
                  lines=[OrderLine(store_id=store.id, variant_id=variant.id, product_title="New", sku=variant.sku,
                                   unit_price_amount=variant.price_amount, quantity=1)])
    db.session.add(order)
    db.session.flush()
    db.session.add(Payment(order_id=order.id, amount=order.total_amount, currency=order.currency))
    db.session.commit()
    assert order.id == db.session.scalar(select(func.max(Order.id))) > 300
    assert customer.id > 1


def test_seeding_twice_appends_and_reuses_the_catalogue(app, db):
    first = seed_bench(200, seed=1, batch=1000)
    variants = _count(db, Variant)
    seed_bench(200, seed=2, batch=1000)
    assert _count(db, Order) == 400 and _count(db, Variant) == variants and _count(db, Store) == first["stores"]
    assert db.session.scalar(select(func.count(func.distinct(Order.number)))) == 400


def test_recent_orders_wait_and_old_ones_are_done():
    recent = [order_status(1, n / 1000) for n in range(1000)]
    old = [order_status(400, n / 1000) for n in range(1000)]
    assert recent.count(("paid", "unfulfilled", "open")) > 500
    assert sum(1 for p, f, _ in old if p == "paid" and f == "fulfilled") > 850
