"""A transfer booked while the store cannot receive it waits, and goes out — once — as soon as it can:
on account.updated, on the Connect return page, by the periodic sweep; a refused one shows its reason and
staff's Retry sends it."""
from flask import current_app
from sqlalchemy import select

from covet.catalog.models import Product, Variant
from covet.extensions import db as _db
from covet.orders.models import Order, OrderLine
from covet.payments import gateway
from covet.payments.models import Transfer
from covet.payments.services import mark_order_paid
from covet.stores.models import Store
from tests.conftest import csrf_from
from tests.webhooks.test_handlers import deliver, run_queued


def _seller(db, make_store, payouts_enabled=False) -> Store:
    account = gateway.call("/v1/accounts", "post", {"type": "express", "capabilities": {
        "transfers": {"requested": True}}}, idempotency_key=f"acct-{payouts_enabled}")
    store = make_store("noor", commission_bps=1000, stripe_account_id=account["id"], payouts_enabled=payouts_enabled)
    product = Product(store_id=store.id, title="Cashmere Wrap", slug="wrap", status="active")
    db.session.add(product)
    db.session.flush()
    db.session.add(Variant(product_id=product.id, store_id=store.id, sku="WRAP-1", price_amount=40000,
                           currency="eur", stock_on_hand=5))
    db.session.commit()
    return store


def _paid_order(db, store: Store) -> Order:
    variant = db.session.scalar(select(Variant).where(Variant.store_id == store.id))
    order = Order(number="CV-W1", email="olivia@example.com", currency="eur", total_amount=40000,
                  subtotal_amount=40000, lines=[OrderLine(store_id=store.id, variant_id=variant.id,
                                                          product_title="Cashmere Wrap", variant_title="Default",
                                                          sku="WRAP-1", quantity=1, unit_price_amount=40000)])
    db.session.add(order)
    db.session.commit()
    assert mark_order_paid(order)
    db.session.commit()
    run_queued(current_app)  # send_transfers: the store cannot receive it yet
    return order


def _transfer(db) -> Transfer:
    _db.session.expire_all()
    return db.session.scalar(select(Transfer))


def test_account_updated_with_payouts_enabled_sends_the_waiting_transfer_once(client, db, stripe_app, stripe_fake,
                                                                             make_store):
    store = _seller(db, make_store)
    _paid_order(db, store)
    assert (_transfer(db).status, _transfer(db).amount) == ("waiting", 36000)  # 400.00 less 10 %
    account = stripe_fake.complete_onboarding(store.stripe_account_id)
    deliver(client, db, stripe_fake.event("account.updated", account))
    deliver(client, db, stripe_fake.event("account.updated", account))  # a second one changes nothing
    transfer = _transfer(db)
    assert transfer.status == "created" and transfer.stripe_transfer_id
    assert [t["id"] for t in stripe_fake.objects_of("transfer")] == [transfer.stripe_transfer_id]
    assert stripe_fake.objects_of("transfer")[0]["amount"] == 36000


def test_the_connect_return_page_sends_it(client, db, stripe_app, stripe_fake, make_store, login_as):
    store = _seller(db, make_store)
    _paid_order(db, store)
    stripe_fake.complete_onboarding(store.stripe_account_id)
    login_as("merchant", store=store)
    assert client.get(f"/admin/stores/{store.id}/connect/return").status_code == 303
    run_queued(current_app)
    assert _transfer(db).status == "created" and len(stripe_fake.objects_of("transfer")) == 1


def test_the_sweep_sends_what_no_event_released(db, stripe_app, stripe_fake, make_store):
    from covet.jobs.periodic import SCHEDULE

    store = _seller(db, make_store)
    _paid_order(db, store)
    stripe_fake.complete_onboarding(store.stripe_account_id)
    store.payouts_enabled = True  # as if synced without an event we saw
    db.session.commit()
    assert SCHEDULE["send-waiting-transfers"][0]() == 1
    run_queued(current_app)
    assert _transfer(db).status == "created" and len(stripe_fake.objects_of("transfer")) == 1


def test_a_refused_transfer_shows_why_and_staff_retry_sends_it(client, db, stripe_app, stripe_fake, make_store,
                                                              login_as):
    store = _seller(db, make_store, payouts_enabled=True)  # Covet thinks so; Stripe's transfers are not active
    _paid_order(db, store)
    transfer = _transfer(db)
    assert transfer.status == "failed" and "capabilities" in transfer.failure_reason
    login_as("merchant", store=store)
    response = client.get(f"/admin/stores/{store.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:2000]
    assert "capabilities" in page and 'id="transfers-retry"' not in page  # merchants see why, staff retry
    assert client.post(f"/admin/stores/{store.id}/transfers/retry",
                       data={"csrf_token": csrf_from(page)}).status_code == 403
    stripe_fake.complete_onboarding(store.stripe_account_id)
    client.post("/admin/logout", data={"csrf_token": csrf_from(page)})
    login_as("staff")
    page = client.get(f"/admin/stores/{store.id}").get_data(as_text=True)
    response = client.post(f"/admin/stores/{store.id}/transfers/retry", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    run_queued(current_app)
    transfer = _transfer(db)
    assert (transfer.status, transfer.failure_reason) == ("created", None), transfer.failure_reason
    assert len(stripe_fake.objects_of("transfer")) == 1
