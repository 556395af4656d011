"""Disputes, payouts and account updates from Stripe: emails once, older payloads never win."""
from sqlalchemy import select

from covet.disputes.models import Dispute
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order
from covet.payments.models import Payment
from covet.payouts.models import Payout
from covet.stores.models import Store
from tests.payments.test_checkout_flow import checkout, pay
from tests.webhooks.test_handlers import deliver


def test_dispute_created_emails_staff_and_store_and_older_updates_fetch_the_current(
        client, db, shop, stripe_fake, make_user):
    staff = make_user("staff")
    merchant = make_user("merchant", store=db.session.get(Store, shop.store_id))
    checkout(client, shop)
    order = db.session.scalar(select(Order))
    pay(client, db, stripe_fake, order)
    payment = db.session.scalar(select(Payment))
    intent = stripe_fake.get("payment_intent", payment.payment_intent_id)
    dispute = stripe_fake.add_dispute(intent, status="needs_response")
    created = stripe_fake.event("charge.dispute.created", dispute)
    won = dict(dispute, status="won")
    closed = stripe_fake.event("charge.dispute.closed", won)
    closed["created"] = created["created"] + 100
    stripe_fake.objects[dispute["id"]]["status"] = "won"  # what Stripe says now
    stale = stripe_fake.event("charge.dispute.updated", dict(dispute, status="under_review"))
    stale["created"] = created["created"] + 50

    deliver(client, db, created, closed, stale)  # the stale update arrives last
    row = db.session.scalar(select(Dispute))
    assert (row.status, row.outcome, row.order_id) == ("won", "won", order.id)
    recipients = set(db.session.scalars(select(EmailOutbox.recipient).where(
        EmailOutbox.template == "dispute_opened")))
    assert recipients == {staff.email, merchant.email}
    assert stripe_fake.requests_to("GET", f"/v1/disputes/{dispute['id']}")  # the older payload made us ask


def test_payout_paid_records_it_and_tells_the_seller_once(client, db, shop, stripe_fake, make_user):
    store = db.session.get(Store, shop.store_id)
    merchant = make_user("merchant", store=store)
    payout = {"id": "po_1", "object": "payout", "amount": 184500, "currency": "eur", "status": "paid",
              "arrival_date": 1_795_000_000}
    body = stripe_fake.event("payout.paid", payout, account=store.stripe_account_id)
    deliver(client, db, body, stripe_fake.event("payout.paid", payout, account=store.stripe_account_id))
    row = db.session.scalar(select(Payout))
    assert (row.store_id, row.amount, row.status) == (store.id, 184500, "paid") and row.arrival_date is not None
    assert db.session.scalars(select(EmailOutbox.recipient).where(EmailOutbox.template == "seller_payout")).all() \
        == [merchant.email]


def test_account_updated_syncs_the_store_from_stripe(client, db, stripe_app, stripe_fake, make_store):
    from covet.payments import gateway

    account = gateway.call("/v1/accounts", "post", {"type": "express"}, idempotency_key="acct-sync")
    store = make_store("noor")
    store.stripe_account_id = account["id"]
    db.session.commit()
    stale = stripe_fake.event("account.updated", account)  # the payload still says "not enabled"
    stripe_fake.complete_onboarding(account["id"])
    deliver(client, db, stale)
    store = db.session.get(Store, store.id)
    assert (store.charges_enabled, store.payouts_enabled, store.details_submitted) == (True, True, True)


def test_a_refund_of_a_charge_that_is_not_ours_is_left_alone(client, db, stripe_app, stripe_fake):
    from covet.webhooks.models import StripeEvent

    intent = stripe_fake.add_payment_intent(1000, "eur")  # another product on the same Stripe account
    charge = {"id": intent["latest_charge"], "object": "charge", "amount": 1000, "amount_refunded": 1000,
              "payment_intent": intent["id"], "refunds": {"data": []}}
    deliver(client, db, stripe_fake.event("charge.refunded", charge))
    row = db.session.scalar(select(StripeEvent))
    assert row.status == "processed" and row.attempts == 1
