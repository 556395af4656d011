"""Checkout → Stripe (the fake) → signed webhook → paid order, stock sold, transfer sent; refunds."""
import pytest
from sqlalchemy import func, select

from covet.catalog.models import InventoryAdjustment, Variant
from covet.errors import ValidationError
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order
from covet.payments import refunds
from covet.payments.models import Payment, Refund, Transfer
from tests.webhooks.test_handlers import deliver


def checkout(client, variant, quantity=2, currency="eur"):
    return client.post("/checkout", json={"items": [{"variant_id": variant.id, "quantity": quantity}],
                                          "email": "olivia@example.com", "currency": currency})


def pay(client, db, stripe_fake, order):
    session_id = db.session.scalar(select(Payment.checkout_session_id).where(Payment.order_id == order.id))
    session = stripe_fake.complete_session(session_id)
    deliver(client, db, stripe_fake.event("checkout.session.completed", session))
    return session


def test_checkout_creates_a_pending_order_and_a_session(client, db, shop, stripe_fake):
    response = checkout(client, shop)
    assert response.status_code == 200 and response.get_json()["url"].startswith("https://checkout.stripe.com/")
    order = db.session.scalar(select(Order))
    assert (order.payment_status, order.total_amount, order.currency) == ("unpaid", 50000, "eur")
    [request] = stripe_fake.requests_to("POST", "/v1/checkout/sessions")
    assert request.headers["Idempotency-Key"] == f"checkout:{order.number}"
    assert request.params["metadata"]["order_id"] == str(order.id)
    assert request.params["payment_intent_data"]["transfer_group"] == order.number
    item = request.params["line_items"][0]
    assert item["price_data"]["unit_amount"] == "25000" and item["quantity"] == "2"


def test_paying_sells_stock_emails_and_transfers_to_the_store(client, db, shop, stripe_fake):
    checkout(client, shop)
    order = db.session.scalar(select(Order))
    pay(client, db, stripe_fake, order)
    order = db.session.get(Order, order.id)
    assert order.payment_status == "paid" and db.session.get(Variant, shop.id).stock_on_hand == 3
    assert db.session.scalar(select(EmailOutbox.idempotency_key)) == f"order-confirmation:{order.number}"
    [request] = stripe_fake.requests_to("POST", "/v1/transfers")
    assert request.params["destination"] == db.session.get(type(shop.product.store), shop.store_id).stripe_account_id
    assert request.params["amount"] == "45000" and request.params["transfer_group"] == order.number  # 10 % kept
    assert request.params["source_transaction"].startswith("ch_")
    assert request.headers["Idempotency-Key"] == f"transfer:{order.id}:{shop.store_id}"
    transfer = db.session.scalar(select(Transfer))
    assert transfer.stripe_transfer_id.startswith("tr_") and transfer.commission_amount == 5000


def test_currency_rules_and_foreign_currency_items(app, client, db, shop):
    assert checkout(client, shop, currency="usd").status_code == 422  # priced in EUR
    app.config["STRIPE_CURRENCY"] = "eur"
    assert checkout(client, shop, currency="usd").status_code == 200  # STRIPE_CURRENCY wins over the client


def test_without_a_secret_key_checkout_is_off(app, client, db, shop):
    app.config["STRIPE_SECRET_KEY"] = None
    app.extensions.pop("covet_stripe", None)
    response = checkout(client, shop)
    assert response.status_code == 503 and "STRIPE_SECRET_KEY" in response.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_an_expired_session_cancels_the_order(client, db, shop, stripe_fake):
    checkout(client, shop)
    order = db.session.scalar(select(Order))
    session_id = db.session.scalar(select(Payment.checkout_session_id))
    expired = {"id": session_id, "object": "checkout.session", "status": "expired",
               "payment_status": "unpaid", "metadata": {"order_id": str(order.id)}}
    deliver(client, db, stripe_fake.event("checkout.session.expired", expired))
    order = db.session.get(Order, order.id)
    assert order.state == "cancelled" and db.session.get(Variant, shop.id).stock_on_hand == 5


def test_partial_refund_is_idempotent_bounded_and_restocks(client, db, shop, stripe_fake, staff_actor):
    checkout(client, shop)
    order = db.session.scalar(select(Order))
    pay(client, db, stripe_fake, order)
    line = db.session.get(Order, order.id).lines[0]
    first = refunds.refund_order(order.id, 25000, staff_actor, "click-1", restock={line.id: 1})
    again = refunds.refund_order(order.id, 25000, staff_actor, "click-1", restock={line.id: 1})  # double click
    assert first.id == again.id and len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1
    order = db.session.get(Order, order.id)
    assert (order.payment_status, order.refunded_amount) == ("partially_refunded", 25000)
    assert db.session.get(Variant, shop.id).stock_on_hand == 4
    assert db.session.scalar(select(InventoryAdjustment.reason).order_by(InventoryAdjustment.id.desc())) == "returned"
    with pytest.raises(ValidationError):
        refunds.refund_order(order.id, 25001, staff_actor, "click-2")
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
