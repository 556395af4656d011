"""Order fixtures: stores with products, orders in any state, actors per role."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from covet.audit.services import Actor
from covet.catalog.models import Product, Variant
from covet.dbtypes import utcnow
from covet.orders.models import Customer, Order, OrderLine
from covet.payments.models import Payment

_numbers = itertools.count(1000)


@pytest.fixture
def stores(make_store):
    """Two stores of the marketplace: Lune (eur) and Noor (eur)."""
    return make_store("lune", currency="eur"), make_store("noor", currency="eur")


@pytest.fixture
def variants(db, stores):
    """One variant per store with 10 in stock: {store_id: Variant}."""
    found = {}
    for store in stores:
        product = Product(store_id=store.id, title=f"{store.name} Bag", slug=f"{store.slug}-bag", status="active")
        db.session.add(product)
        db.session.flush()
        variant = Variant(product_id=product.id, store_id=store.id, sku=f"{store.slug.upper()}-BAG-1",
                          price_amount=25000, currency=store.currency, stock_on_hand=10, position=0)
        db.session.add(variant)
        found[store.id] = variant
    db.session.commit()
    return found


@pytest.fixture
def make_order(db, stores, variants):
    """An order with one line per store given (default: both), paid and open unless told otherwise.

    make_order(payment_status="unpaid", stores=[lune], quantity=2, created_at=..., email=..., assignee=user)
    """
    def make(payment_status="paid", fulfilment_status="unfulfilled", state="open", quantity=1,
             stores=None, created_at=None, email=None, assignee=None, number=None, with_payment=None):
        chosen = stores or variants_by_store(variants)
        n = next(_numbers)
        customer = Customer(email=email or f"customer{n}@example.test", name=f"Customer {n}")
        db.session.add(customer)
        order = Order(number=number or f"CV-{n}", customer=customer, email=customer.email, customer_name=customer.name,
                      currency="eur", payment_status=payment_status, fulfilment_status=fulfilment_status,
                      state=state, assignee_id=assignee.id if assignee else None,
                      created_at=created_at or utcnow(), paid_at=utcnow() if payment_status == "paid" else None)
        total = 0
        for store in chosen:
            variant = variants[store.id]
            order.lines.append(OrderLine(store_id=store.id, variant_id=variant.id, product_title=f"{store.name} Bag",
                                         variant_title="Default", sku=variant.sku, unit_price_amount=25000,
                                         quantity=quantity))
            total += 25000 * quantity
        order.subtotal_amount = order.total_amount = total
        db.session.add(order)
        db.session.flush()
        if with_payment if with_payment is not None else payment_status in ("paid", "partially_refunded"):
            db.session.add(Payment(order_id=order.id, checkout_session_id=f"cs_test_{n}",
                                   payment_intent_id=f"pi_test_{n}", charge_id=f"ch_test_{n}", amount=total,
                                   currency="eur", status="succeeded"))
        db.session.commit()
        return order
    return make


def variants_by_store(variants: dict):
    from covet.extensions import db
    from covet.stores.models import Store

    return [db.session.get(Store, store_id) for store_id in variants]


@pytest.fixture
def staff_actor(make_user):
    return Actor.for_user(make_user("staff"))


@pytest.fixture
def merchant_of(make_user):
    """merchant_of(store) → an Actor for a merchant of that store."""
    return lambda store: Actor.for_user(make_user("merchant", store=store))


def hours_ago(hours: float) -> dt.datetime:
    return utcnow() - dt.timedelta(hours=hours)
