"""Refunds take the store's share back from its transfer, pro rata, once per refund and store: refunds from
the order page, the rest of an order refunded in full, refunds made in Stripe's dashboard (charge.refunded);
a short seller balance becomes the store's debt, and a transfer not sent yet is cut instead."""
from flask import current_app
from sqlalchemy import select

from covet.audit.services import Actor
from covet.orders.models import Order
from covet.payments.models import RefundReversal, StoreDebt, Transfer
from covet.payments.refunds import refund_order
from covet.stores.models import Store
from tests.payments.test_checkout_flow import checkout, pay
from tests.webhooks.test_handlers import deliver, run_queued

STAFF = Actor(user_id=None, email="staff@covet.test", role="staff")


def _paid(client, db, shop, stripe_fake) -> tuple[Order, Transfer]:
    assert checkout(client, shop, quantity=2).status_code == 200  # 2 × €250.00, 10 % commission
    order = db.session.scalar(select(Order))
    pay(client, db, stripe_fake, order)
    run_queued(current_app)  # the transfer goes to Stripe
    db.session.expire_all()
    transfer = db.session.scalar(select(Transfer))
    assert (transfer.amount, transfer.status) == (45000, "created")
    return db.session.get(Order, order.id), transfer


def _reversed(stripe_fake) -> list[int]:
    return [r["amount"] for r in stripe_fake.objects_of("transfer_reversal")]


def test_a_partial_refund_reverses_the_stores_share_then_the_rest_takes_what_is_left(client, db, shop,
                                                                                      stripe_fake, login_as):
    order, transfer = _paid(client, db, shop, stripe_fake)
    refund_order(order.id, 10_000, STAFF, "refund-one")  # €100 of €500: 20 % of the store's €450
    run_queued(current_app)
    assert _reversed(stripe_fake) == [9000]
    refund_order(order.id, 40_000, STAFF, "refund-two")  # the rest: all that is left of the transfer
    run_queued(current_app)
    assert sorted(_reversed(stripe_fake)) == [9000, 36000]
    rows = db.session.scalars(select(RefundReversal).order_by(RefundReversal.id)).all()
    assert [(r.amount, r.status) for r in rows] == [(9000, "done"), (36000, "done")]
    refund_order(order.id, 40_000, STAFF, "refund-two")  # the same click again: one refund, no new reversal
    run_queued(current_app)
    assert len(_reversed(stripe_fake)) == 2
    login_as("staff")  # support sees where the money came from, under each refund
    page = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Taken back from Lune's transfer: €90.00 — reversed on Stripe" in page
    assert "Taken back from Lune's transfer: €360.00 — reversed on Stripe" in page


def test_a_dashboard_refund_is_reversed_once(client, db, shop, stripe_fake):
    order, transfer = _paid(client, db, shop, stripe_fake)
    charge = stripe_fake.objects_of("charge")[0]
    refund = {"id": "re_dash_1", "object": "refund", "amount": 25_000, "status": "succeeded", "currency": "eur"}
    body = dict(charge, amount_refunded=25_000, refunds={"object": "list", "data": [refund]})
    event = stripe_fake.event("charge.refunded", body)
    deliver(client, db, event, stripe_fake.event("charge.refunded", body))  # Stripe sends it twice
    assert _reversed(stripe_fake) == [22500]  # half of the store's €450


def test_a_short_seller_balance_becomes_the_stores_debt(client, db, shop, stripe_fake):
    order, transfer = _paid(client, db, shop, stripe_fake)
    store = db.session.get(Store, shop.store_id)
    stripe_fake.account_balance[store.stripe_account_id] = 1000  # the seller was paid out already
    refund_order(order.id, 50_000, STAFF, "refund-all")
    run_queued(current_app)
    row = db.session.scalar(select(RefundReversal))
    assert (row.status, row.amount) == ("debt", 45000) and "available balance" in row.failure_reason
    debt = db.session.scalar(select(StoreDebt))
    assert (debt.store_id, debt.amount, debt.status) == (store.id, 45000, "open")  # netted from its next transfers
