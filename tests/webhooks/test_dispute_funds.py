"""Dispute events through the signed webhook: funds withdrawn / reinstated and closed, in every arrival order,
leave each store with the same money on the Stripe fake; duplicates reverse nothing twice."""
from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import select

from covet.disputes.liability_queries import liability_rows
from covet.disputes.models import Dispute
from covet.payments.models import DisputeLiability, Payment, StoreDebt, TransferReversal
from covet.webhooks.handlers import HANDLERS
from tests.disputes.test_liability import connected, fake_retransfers, fake_reversals, paid_order  # noqa: F401
from tests.orders.conftest import make_order, stores, variants  # noqa: F401 - two stores, not this folder's one
from tests.webhooks.support import SECRET
from tests.webhooks.test_handlers import deliver

WITHDRAWAL = {"id": "txn_dispute", "object": "balance_transaction", "amount": -30001, "fee": 1500,
              "reporting_category": "dispute", "currency": "eur"}
REINSTATEMENT = {"id": "txn_dispute_back", "object": "balance_transaction", "amount": 30001, "fee": 0,
                 "reporting_category": "dispute_reversal", "currency": "eur"}
# (event type, the dispute's status in its payload, seconds after the first, balance transactions by then)
LOST = [("charge.dispute.created", "needs_response", 0, []),
        ("charge.dispute.funds_withdrawn", "needs_response", 1, [WITHDRAWAL]),
        ("charge.dispute.closed", "lost", 2, [WITHDRAWAL])]
WON = [("charge.dispute.created", "needs_response", 0, []),
       ("charge.dispute.funds_withdrawn", "needs_response", 1, [WITHDRAWAL]),
       ("charge.dispute.funds_reinstated", "under_review", 2, [WITHDRAWAL, REINSTATEMENT]),
       ("charge.dispute.closed", "won", 3, [WITHDRAWAL, REINSTATEMENT])]


@pytest.fixture
def webhooks_on(app, connected):  # noqa: F811
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET  # set_stripe_config put the peer's secret there
    return app


def dispute_events(db, stripe_fake, order, script):
    """The dispute on the fake in its final state, and the events Stripe sent along the way."""
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    seeded = stripe_fake.add_dispute(payment.charge_id, amount=30001, reason="fraudulent")
    final = script[-1]
    stripe_fake.objects[seeded["id"]].update(status=final[1], balance_transactions=list(final[3]))
    start = int(time.time()) - 60
    events = []
    for kind, status, after, txns in script:
        body = stripe_fake.event(kind, dict(seeded, status=status, balance_transactions=list(txns)))
        body["created"] = start + after
        events.append(body)
    return seeded, events


def outcome(db, stripe_fake, order, stores):  # noqa: F811
    """Per store: what it paid in the end, its open debt, and Stripe's own net (reversed - given back)."""
    dispute = db.session.scalar(select(Dispute).where(Dispute.order_id == order.id))
    reversed_on_stripe = fake_reversals(stripe_fake, db, order)
    given_back = fake_retransfers(stripe_fake, dispute)
    result = {}
    for index, row in enumerate(sorted(liability_rows(dispute), key=lambda r: r.store_id)):
        store = stores[index]
        taken, back = reversed_on_stripe.get(store.id, []), given_back.get(store.stripe_account_id, [])
        assert len(taken) <= 1 and len(back) <= 1  # one reversal, one re-transfer at most, per dispute and store
        result[index] = (row.net, row.debt_open, sum(taken) - sum(back))
    return dispute, result


@pytest.mark.parametrize("order_of", list(itertools.permutations(range(len(LOST)))), ids=str)
def test_lost_in_any_order_reverses_each_store_once(client, db, webhooks_on, paid_order, stripe_fake,  # noqa: F811
                                                    stores, order_of):  # noqa: F811
    order = paid_order()
    _, events = dispute_events(db, stripe_fake, order, LOST)
    deliver(client, db, *[events[n] for n in order_of])
    dispute, result = outcome(db, stripe_fake, order, stores)
    assert dispute.status == "lost"
    assert result == {0: (15429, 0, 15429), 1: (14572, 0, 14572)}
    rows = db.session.scalars(select(TransferReversal).order_by(TransferReversal.store_id)).all()
    assert [(r.kind, r.amount, r.status) for r in rows] == [("reverse", 15429, "done"), ("reverse", 14572, "done")]
    facts = db.session.scalar(select(DisputeLiability))
    assert facts.funds_withdrawn_at is not None and facts.funds_reinstated_at is None


@pytest.mark.parametrize("order_of", list(itertools.permutations(range(len(WON)))), ids=str)
def test_won_in_any_order_leaves_every_store_whole(client, db, webhooks_on, paid_order, stripe_fake,  # noqa: F811
                                                   stores, order_of):  # noqa: F811
    order = paid_order()
    _, events = dispute_events(db, stripe_fake, order, WON)
    deliver(client, db, *[events[n] for n in order_of])
    dispute, result = outcome(db, stripe_fake, order, stores)
    assert dispute.status == "won"
    assert result == {0: (0, 0, 0), 1: (0, 0, 0)}
    # The path differs, the money does not: a withdrawal seen before the win reverses, then gives back.
    first = order_of.index(1) < min(order_of.index(2), order_of.index(3))
    done = db.session.scalars(select(TransferReversal.kind).where(TransferReversal.status == "done")).all()
    assert sorted(done) == (["retransfer"] * 2 + ["reverse"] * 2 if first else [])
    assert {r.state for r in liability_rows(dispute)} <= {"none", "given_back", "cancelled"}


def test_duplicates_and_replays_reverse_nothing_twice(client, db, webhooks_on, paid_order, stripe_fake,  # noqa: F811
                                                      stores):  # noqa: F811
    order = paid_order()
    _, events = dispute_events(db, stripe_fake, order, LOST)
    withdrawn = dict(events[1], id=events[1]["id"] + "dup")  # Stripe resending under a new event id
    deliver(client, db, *events, withdrawn, events[2])
    from covet.webhooks import services
    from covet.webhooks.models import StripeEvent

    for row_id in db.session.scalars(select(StripeEvent.id)).all():  # an admin replaying every event
        services.process(row_id)
    assert outcome(db, stripe_fake, order, stores)[1] == {0: (15429, 0, 15429), 1: (14572, 0, 14572)}
    posts = [r for r in stripe_fake.requests if r.method == "POST" and r.path.endswith("/reversals")]
    assert len(posts) == 2


def test_funds_withdrawn_with_a_short_balance_is_owed(client, db, webhooks_on, paid_order, stripe_fake,  # noqa: F811
                                                      stores):  # noqa: F811
    order = paid_order()
    stripe_fake.account_balance[stores[1].stripe_account_id] = 0
    _, events = dispute_events(db, stripe_fake, order, LOST[:2])
    deliver(client, db, events[1])  # the withdrawal alone, before Stripe's created event
    debt = db.session.scalar(select(StoreDebt))
    assert (debt.store_id, debt.amount, debt.status) == (stores[1].id, 14572, "open")
    assert "charge.dispute.funds_withdrawn" in HANDLERS and "charge.dispute.funds_reinstated" in HANDLERS
