"""Refunds and cancellations against the Stripe fake (and localstripe): bounded, once per form, retry-finishable."""

import pytest
import stripe
from sqlalchemy import delete, select, update

from covet.audit.services import Actor
from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders.cancellation import IN_FLIGHT, cancel_order, refund
from covet.orders.fulfilment import fulfil_order
from covet.orders.models import Order, OrderLine
from covet.payments import gateway
from covet.payments.models import Payment, Refund
from tests.conftest import requires_postgres
from tests.orders import refund_support
from tests.orders.concurrency import at_once
from tests.orders.refund_support import actions, age_refund, count, ledger, outbox, refunds, stock
from tests.stripe_peers import set_stripe_config

paid_order = refund_support.paid_order  # the fixture


def lines(order_id: int) -> list[OrderLine]:
    db.session.expire_all()
    return db.session.get(Order, order_id).lines


# --- refund -----------------------------------------------------------------------------------------------

def test_partial_refund_with_restock(paid_order, variants, stores, staff_actor, stripe_fake):
    lune, _ = stores
    order = paid_order(quantity=2)  # 2 × €250 per store, €1,000 in all
    line = lines(order.id)[0]
    assert stock(variants[lune.id]) == 8
    made = refund(order.id, 25000, staff_actor, "click-1", restock={line.id: 1}, reason="damaged")
    assert (made.status, made.amount, made.restock, made.reason) == ("succeeded", 25000, True, "damaged")
    assert made.stripe_refund_id == stripe_fake.objects_of("refund")[0]["id"]
    order = db.session.get(Order, order.id)
    assert (order.payment_status, order.refunded_amount) == ("partially_refunded", 25000)
    assert lines(order.id)[0].quantity_refunded == 1 and stock(variants[lune.id]) == 9
    assert ledger("returned") == [(variants[lune.id].id, 1)]
    assert actions() == ["order.refunded", "order.restocked"]


def test_a_double_submitted_refund_is_one_refund_and_one_restock(paid_order, variants, stores, staff_actor,
                                                                 stripe_fake):
    order = paid_order(quantity=2)
    line = lines(order.id)[0]
    first = refund(order.id, 25000, staff_actor, "click-1", restock={line.id: 1})
    again = refund(order.id, 25000, staff_actor, "click-1", restock={line.id: 1})
    assert again.id == first.id and count(Refund) == 1
    assert len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1
    assert lines(order.id)[0].quantity_refunded == 1 and len(ledger("returned")) == 1
    assert db.session.get(Order, order.id).refunded_amount == 25000


@pytest.mark.parametrize(("amount", "message"), [
    (100001, "At most €1,000.00 can be refunded."), (0, "Enter an amount above zero."),
    (-5, "Enter an amount above zero."), ("12", "Enter an amount above zero.")])
def test_amounts_outside_what_is_refundable_are_refused(paid_order, staff_actor, stripe_fake, amount, message):
    order = paid_order(quantity=2)
    with pytest.raises(ValidationError) as refused:
        refund(order.id, amount, staff_actor, "k")
    assert refused.value.errors == {"amount": message}
    assert count(Refund) == 0 and stripe_fake.requests_to("POST", "/v1/refunds") == []


def test_refundable_shrinks_with_each_refund(paid_order, staff_actor):
    order = paid_order()
    refund(order.id, 40000, staff_actor, "a")
    with pytest.raises(ValidationError) as refused:
        refund(order.id, 10001, staff_actor, "b")
    assert refused.value.errors == {"amount": "At most €100.00 can be refunded."}
    refund(order.id, 10000, staff_actor, "c")
    assert db.session.get(Order, order.id).payment_status == "refunded"
    with pytest.raises(ValidationError) as refused:
        refund(order.id, 1, staff_actor, "d")
    assert refused.value.errors == {"amount": "This order has no captured payment to refund."}


def test_restock_quantities_are_checked(paid_order, staff_actor, make_order):
    order = paid_order(quantity=2)
    line = lines(order.id)[0]
    refund(order.id, 25000, staff_actor, "first", restock={line.id: 1})
    with pytest.raises(ValidationError) as refused:
        refund(order.id, 25000, staff_actor, "second", restock={line.id: 2, 999999: 1})
    assert refused.value.errors == {f"restock-{line.id}": "Return between 0 and 1 of LUNE-BAG-1.",
                                    "restock": "Line 999999 is not part of this order."}
    assert count(Refund) == 1


def test_unpaid_orders_and_merchants_are_refused(make_order, stores, staff_actor, merchant_of, paid_order):
    with pytest.raises(ValidationError) as refused:
        refund(make_order(payment_status="unpaid").id, 100, staff_actor, "k")
    assert refused.value.errors == {"amount": "This order has no captured payment to refund."}
    with pytest.raises(NotFoundError):
        refund(paid_order().id, 100, merchant_of(stores[0]), "k2")


def test_a_stripe_refusal_is_a_field_message_and_frees_the_amount(paid_order, staff_actor, stripe_fake):
    order = paid_order()
    charge = stripe_fake.objects_of("charge")[0]
    stripe_fake.objects[charge["id"]]["amount_refunded"] = 45000  # refunded on Stripe's dashboard meanwhile
    with pytest.raises(ValidationError) as refused:
        refund(order.id, 50000, staff_actor, "k")
    assert refused.value.errors["amount"].startswith("Stripe refused the request: Refund amount (50000) is greater")
    assert [(r.status, r.stripe_refund_id) for r in refunds()] == [("failed", None)]  # kept, amount free again
    assert actions() == ["order.refund_failed"]
    with pytest.raises(ValidationError) as refused:  # the same form again: Stripe would only repeat its answer
        refund(order.id, 50000, staff_actor, "k")
    assert refused.value.errors == {"amount": "Stripe refused this refund. Reload the page to try again."}
    assert refund(order.id, 5000, staff_actor, "k2").status == "succeeded"
    assert db.session.get(Order, order.id).refunded_amount == 5000


def test_a_lost_answer_is_finished_by_submitting_again(paid_order, variants, stores, staff_actor, stripe_fake,
                                                       monkeypatch):
    lune, _ = stores
    order = paid_order(quantity=2)
    line = lines(order.id)[0]
    real_call = gateway.call

    def answer_lost(*args, **kwargs):  # Stripe made the refund, then the connection dropped
        real_call(*args, **kwargs)
        raise gateway.GatewayError("Stripe could not be reached or is busy; try again shortly.", retryable=True)

    monkeypatch.setattr(gateway, "call", answer_lost)
    with pytest.raises(ValidationError) as refused:
        refund(order.id, 25000, staff_actor, "lost", restock={line.id: 1})
    assert "held as pending" in refused.value.errors["amount"]
    [pending] = refunds()
    assert (pending.status, pending.stripe_refund_id) == ("pending", None)
    with pytest.raises(ValidationError) as refused:  # a second refund cannot slip past the held amount
        refund(order.id, 100000, staff_actor, "other")
    assert refused.value.errors == {"amount": "At most €750.00 can be refunded."}
    monkeypatch.setattr(gateway, "call", real_call)
    with pytest.raises(ValidationError) as refused:  # its request might still be running
        refund(order.id, 25000, staff_actor, "lost", restock={line.id: 1})
    assert refused.value.errors == {"amount": "Stripe has not confirmed this refund yet; try again in a couple of "
                                              "minutes."}
    age_refund("lost")
    done = refund(order.id, 25000, staff_actor, "lost", restock={line.id: 1})
    [made] = stripe_fake.objects_of("refund")  # Stripe replayed its first answer: one refund there
    assert (done.id, done.status, done.stripe_refund_id) == (pending.id, "succeeded", made["id"])
    assert db.session.get(Order, order.id).refunded_amount == 25000
    assert lines(order.id)[0].quantity_refunded == 1 and stock(variants[lune.id]) == 9
    assert refund(order.id, 25000, staff_actor, "lost", restock={line.id: 1}).id == done.id
    assert len(ledger("returned")) == 1 and len(stripe_fake.objects_of("refund")) == 1


def test_payments_switched_off_leave_nothing_behind(app, paid_order, staff_actor):
    order = paid_order()
    app.config["STRIPE_SECRET_KEY"] = None
    app.extensions.pop("covet_stripe", None)
    with pytest.raises(ValidationError) as refused:
        refund(order.id, 100, staff_actor, "k")
    assert "STRIPE_SECRET_KEY" in refused.value.errors["amount"] and [r.status for r in refunds()] == ["failed"]
    assert db.session.get(Order, order.id).refunded_amount == 0


# --- cancel -----------------------------------------------------------------------------------------------

def test_cancelling_a_paid_order_refunds_restocks_and_emails_once(paid_order, variants, stores, staff_actor,
                                                                  stripe_fake):
    lune, noor = stores
    order = paid_order(quantity=2)
    cancelled = cancel_order(order.id, staff_actor, "cancel-1", reason="customer asked")
    assert (cancelled.state, cancelled.payment_status, cancelled.refunded_amount) == ("cancelled", "refunded", 100000)
    assert cancelled.cancelled_at is not None
    [made] = refunds()
    assert (made.idempotency_key, made.amount, made.reason) == ("cancel-1:refund", 100000, "customer asked")
    assert stock(variants[lune.id]) == 10 and stock(variants[noor.id]) == 10
    assert sorted(ledger("cancelled")) == sorted([(variants[lune.id].id, 2), (variants[noor.id].id, 2)])
    [email] = outbox("order_cancelled")
    assert (email.idempotency_key, email.order_id, email.recipient) == (
        f"order-cancelled:{order.number}", order.id, order.email)
    assert email.context["refunded_amount"] == 100000 and email.context["currency"] == "eur"
    assert [(ln["sku"], ln["quantity"]) for ln in email.context["lines"]] == [("LUNE-BAG-1", 2), ("NOOR-BAG-1", 2)]
    assert actions() == ["order.cancelled", "order.refunded"]

    again = cancel_order(order.id, staff_actor, "cancel-2")  # a second click, or another person
    assert again.id == order.id and count(Refund) == 1 and len(outbox("order_cancelled")) == 1
    assert len(ledger("cancelled")) == 2 and len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1


def test_cancelling_an_unpaid_order_moves_no_money_and_no_stock(make_order, variants, stores, staff_actor):
    order = make_order(payment_status="unpaid")
    cancelled = cancel_order(order.id, staff_actor, "c")
    assert cancelled.state == "cancelled" and count(Refund) == 0 and ledger("cancelled") == []
    assert stock(variants[stores[0].id]) == 10
    assert outbox("order_cancelled")[0].context["refunded_amount"] == 0


def test_only_stock_that_was_sold_goes_back(paid_order, variants, stores, staff_actor):
    lune, noor = stores
    order = paid_order()
    noor_line = next(ln for ln in lines(order.id) if ln.store_id == noor.id)
    noor_line.stock_problem = "oversold: 1 ordered, 0 in stock"  # sell_stock could not take it
    db.session.commit()
    cancel_order(order.id, staff_actor, "c")
    assert ledger("cancelled") == [(variants[lune.id].id, 1)]


def test_cancel_without_restock(paid_order, staff_actor):
    order = paid_order()
    assert cancel_order(order.id, staff_actor, "c", restock=False).state == "cancelled"
    assert ledger("cancelled") == [] and refunds()[0].amount == 50000


def test_a_partly_refunded_order_gets_the_rest_back(paid_order, variants, stores, staff_actor):
    lune, _ = stores
    order = paid_order(quantity=2)
    line = lines(order.id)[0]
    refund(order.id, 25000, staff_actor, "earlier", restock={line.id: 1})
    cancel_order(order.id, staff_actor, "c")
    assert [r.amount for r in refunds()] == [25000, 75000]
    assert db.session.get(Order, order.id).payment_status == "refunded"
    assert ledger("returned") + ledger("cancelled") == [(variants[lune.id].id, 1), (variants[lune.id].id, 1),
                                                        (variants[stores[1].id].id, 2)]
    assert stock(variants[lune.id]) == 10


@pytest.mark.parametrize(("setup", "message"), [
    ("shipped", "Already shipped — refund instead."), ("closed", "This order is closed — it cannot be cancelled."),
    ("pending", "A payment is still being processed — wait until it settles, then cancel.")])
def test_shipped_closed_or_settling_orders_are_not_cancelled(paid_order, make_order, stores, staff_actor, setup,
                                                             message):
    if setup == "shipped":
        order = paid_order()
        fulfil_order(order.id, stores[0].id, staff_actor, "dhl", "JD014600006281", None, "ship")
    else:
        order = make_order(state="closed") if setup == "closed" else make_order(payment_status="pending")
    with pytest.raises(ValidationError) as refused:
        cancel_order(order.id, staff_actor, "c")
    assert refused.value.errors == {"cancel": message}
    order = db.session.get(Order, order.id)
    assert order.state != "cancelled" and count(Refund) == 0 and outbox("order_cancelled") == []


def test_merchants_cannot_cancel(paid_order, stores, merchant_of):
    with pytest.raises(NotFoundError):
        cancel_order(paid_order().id, merchant_of(stores[0]), "c")


def test_a_refund_that_fails_is_finished_by_cancelling_again(paid_order, staff_actor, stripe_fake):
    order = paid_order()
    intent_id = db.session.scalar(select(Payment.payment_intent_id).where(Payment.order_id == order.id))
    db.session.execute(update(Payment).where(Payment.order_id == order.id).values(payment_intent_id="pi_unknown"))
    db.session.commit()
    with pytest.raises(ValidationError) as refused:
        cancel_order(order.id, staff_actor, "c")
    assert refused.value.errors["cancel"].startswith("The order is cancelled, but the refund did not go through: "
                                                     "Stripe refused the request: No such payment_intent")
    assert db.session.get(Order, order.id).state == "cancelled" and outbox("order_cancelled") == []
    db.session.execute(update(Payment).where(Payment.order_id == order.id).values(payment_intent_id=intent_id))
    db.session.commit()
    finished = cancel_order(order.id, staff_actor, "c")  # the same form again: a new Stripe key for the new try
    assert (finished.payment_status, finished.refunded_amount) == ("refunded", 50000)
    assert [r.status for r in refunds()] == ["failed", "succeeded"]
    assert len(outbox("order_cancelled")) == 1 and outbox("order_cancelled")[0].context["refunded_amount"] == 50000


def test_a_cancellation_whose_refund_answer_was_lost(paid_order, staff_actor, stripe_fake, monkeypatch):
    order = paid_order()
    real_call = gateway.call

    def answer_lost(*args, **kwargs):
        real_call(*args, **kwargs)
        raise gateway.GatewayError("Stripe could not be reached or is busy; try again shortly.", retryable=True)

    monkeypatch.setattr(gateway, "call", answer_lost)
    with pytest.raises(ValidationError) as refused:
        cancel_order(order.id, staff_actor, "c")
    assert "held as pending" in refused.value.errors["cancel"]
    monkeypatch.setattr(gateway, "call", real_call)
    with pytest.raises(ValidationError) as refused:  # too soon: its request might still be running
        cancel_order(order.id, staff_actor, "c")
    assert refused.value.errors == {"cancel": IN_FLIGHT} and outbox("order_cancelled") == []
    age_refund("c:refund")
    finished = cancel_order(order.id, staff_actor, "c")
    assert (finished.payment_status, finished.refunded_amount) == ("refunded", 50000)
    assert len(stripe_fake.objects_of("refund")) == 1 and count(Refund) == 1
    assert outbox("order_cancelled")[0].context["refunded_amount"] == 50000


def test_an_email_lost_to_a_crash_is_sent_by_cancelling_again(paid_order, staff_actor):
    order = paid_order()
    cancel_order(order.id, staff_actor, "c")
    db.session.execute(delete(EmailOutbox))  # as if the process died after the refund, before the email
    db.session.commit()
    cancel_order(order.id, staff_actor, "c")
    cancel_order(order.id, staff_actor, "c")
    assert len(outbox("order_cancelled")) == 1 and count(Refund) == 1


def test_cancel_through_localstripe(app, db, fresh_localstripe, make_order, staff_actor):
    """The same cancellation against localstripe's real refunds."""
    set_stripe_config(app, fresh_localstripe)
    order = make_order()
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": fresh_localstripe})
    intent = client.v1.payment_intents.create(params={"amount": order.total_amount, "currency": "eur",
                                                      "payment_method": "pm_card_visa", "confirm": True})
    db.session.execute(update(Payment).where(Payment.order_id == order.id).values(payment_intent_id=intent.id))
    db.session.commit()
    cancelled = cancel_order(order.id, staff_actor, "ls")
    [made] = refunds()
    stripe_side = client.v1.refunds.retrieve(made.stripe_refund_id)
    assert (stripe_side.amount, stripe_side.payment_intent) == (50000, intent.id)
    assert (cancelled.state, cancelled.payment_status, cancelled.refunded_amount) == ("cancelled", "refunded", 50000)


@requires_postgres
def test_two_people_cancelling_at_once_refund_once_and_email_once(app, paid_order, make_user, stripe_fake):
    order_id = paid_order().id
    actors = [Actor.for_user(make_user("staff")) for _ in range(2)]
    def press(actor, key):
        try:
            return cancel_order(order_id, actor, key).state
        except ValidationError as exc:
            return exc.errors

    outcomes = at_once(app, [lambda a=actor, k=f"key-{i}": press(a, k) for i, actor in enumerate(actors)])
    assert "cancelled" in outcomes and all(o in ("cancelled", {"cancel": IN_FLIGHT}) for o in outcomes), outcomes
    db.session.expire_all()
    assert [(r.status, r.amount) for r in refunds()] == [("succeeded", 50000)]
    assert len(stripe_fake.objects_of("refund")) == 1
    [email] = outbox("order_cancelled")
    assert email.context["refunded_amount"] == 50000
