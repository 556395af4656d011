"""localstripe on loopback: a PaymentIntent confirmed with a test card, its own signed webhook delivered to
the running app, verified by the real stripe library, and the order paid (or failed for a declined card)."""
import threading
import time

import pytest
import requests
import stripe
from sqlalchemy import func, select
from werkzeug.serving import make_server

from covet.orders.models import Order, OrderLine
from covet.webhooks.models import StripeEvent
from tests.conftest import REDIS_URL, build_app
from tests.webhooks.support import SECRET
from tests.webhooks.test_handlers import deliver


@pytest.fixture
def served(database_url, tmp_path, fresh_localstripe):
    """The app on loopback with Stripe pointed at localstripe, and localstripe's webhooks pointed at it."""
    app = build_app(database_url, tmp_path / "served", STRIPE_SECRET_KEY="sk_test_local",
                    STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE=fresh_localstripe)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/stripe"
    requests.post(f"{fresh_localstripe}/_config/webhooks/covet", timeout=5,
                  data={"url": url, "secret": SECRET}).raise_for_status()
    yield stripe.StripeClient("sk_test_local", base_addresses={"api": fresh_localstripe})
    server.shutdown()


def wait_for_event(db, type_, seconds=20):
    """localstripe posts its webhook asynchronously (about a second later): wait for it to land."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        row = db.session.scalar(select(StripeEvent).where(StripeEvent.type == type_))
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no {type_} event arrived")


def wait_until_queued(db, seconds=20):
    """With Redis: the served app hands the job for a stored event to RQ after its commit, within the webhook
    request; seeing the event row is not enough (the burst worker could run before the job is in Redis, find
    nothing, and leave the order unpaid). Wait until the outbox holds no row: every job is in RQ."""
    from covet.jobs.models import JobOutbox

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.scalar(select(func.count()).select_from(JobOutbox).where(JobOutbox.status == "pending")) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the served app never handed its jobs to RQ")


def wait_until_processed(db, row_id, seconds=20):
    """Embedded mode: the served app processes the event on its own background thread; wait for it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.get(StripeEvent, row_id).status != "pending":
            return
        time.sleep(0.05)
    raise AssertionError("the event was never processed")


def _order(db, make_store):
    store = make_store("lune", currency="eur")
    order = Order(number="CV-LS", email="a@example.com", currency="eur", total_amount=4200, subtotal_amount=4200,
                  lines=[OrderLine(store_id=store.id, product_title="Card", sku="C-1", unit_price_amount=4200,
                                   quantity=1)])
    db.session.add(order)
    db.session.commit()
    return order


@pytest.mark.parametrize("card, expected", [("pm_card_visa", "paid"), ("4000000000000341", "failed")])
def test_localstripe_payment_and_its_signed_webhook(client, db, served, make_store, card, expected):
    order = _order(db, make_store)
    metadata = {"order_id": str(order.id)}
    if card.startswith("pm_"):
        intent = served.v1.payment_intents.create(params={"amount": 4200, "currency": "eur", "metadata": metadata,
                                                          "payment_method": card, "confirm": True})
    else:
        method = served.v1.payment_methods.create(params={"type": "card", "card": {
            "number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        intent = served.v1.payment_intents.create(params={"amount": 4200, "currency": "eur", "metadata": metadata,
                                                          "payment_method": method.id})
        with pytest.raises(stripe.CardError):
            served.v1.payment_intents.confirm(intent.id)  # localstripe's confirm takes no parameters
    type_ = "payment_intent.succeeded" if expected == "paid" else "payment_intent.payment_failed"
    row = wait_for_event(db, type_)
    assert row.payload["data"]["object"]["id"] == intent.id  # signed by localstripe, accepted by us
    if REDIS_URL:
        wait_until_queued(db)
    deliver(client, db)  # run whatever the served app queued in RQ (with REDIS_URL)
    if not REDIS_URL:
        wait_until_processed(db, row.id)
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_status == expected


def test_refund_through_localstripe(app, db, fresh_localstripe, make_store, make_user):
    """The refund service against localstripe's real refunds: recorded, bounded, one per idempotency key."""
    from covet.audit.services import Actor
    from covet.payments import refunds
    from covet.payments.models import Payment
    from tests.stripe_peers import set_stripe_config

    set_stripe_config(app, fresh_localstripe)
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": fresh_localstripe})
    order = _order(db, make_store)
    intent = client.v1.payment_intents.create(params={"amount": 4200, "currency": "eur",
                                                      "payment_method": "pm_card_visa", "confirm": True})
    order.payment_status = "paid"
    db.session.add(Payment(order_id=order.id, payment_intent_id=intent.id, amount=4200, currency="eur",
                           status="succeeded"))
    db.session.commit()
    actor = Actor.for_user(make_user("staff"))
    refund = refunds.refund_order(order.id, 1200, actor, "refund-click-1")
    assert refund.stripe_refund_id.startswith("re_") and refund.status == "succeeded"
    stripe_side = client.v1.refunds.retrieve(refund.stripe_refund_id)
    assert (stripe_side.amount, stripe_side.payment_intent) == (1200, intent.id)
    order = db.session.get(Order, order.id)
    assert (order.payment_status, order.refunded_amount) == ("partially_refunded", 1200)
