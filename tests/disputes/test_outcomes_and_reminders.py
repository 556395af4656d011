"""Won/lost emails to staff and the order's stores; reminders run in embedded mode too; Stripe's details kept."""
from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from covet.disputes.services import apply_stripe_dispute
from covet.extensions import db
from covet.jobs import ticker
from covet.notifications.models import EmailOutbox


def emails(template: str) -> list[tuple[str, dict]]:
    return [(row.recipient, row.context) for row in
            db.session.scalars(select(EmailOutbox).where(EmailOutbox.template == template).order_by(EmailOutbox.id))]


def stripe_dispute(charge: str, amount: int, status: str, **fields) -> dict:
    return {"id": "dp_outcome_1", "object": "dispute", "charge": charge, "amount": amount, "currency": "eur",
            "reason": "product_not_received", "status": status,
            "evidence_details": {"due_by": int(time.time()) + 86400 * 5, "has_evidence": status != "needs_response",
                                 "past_due": False, "submission_count": int(status != "needs_response")},
            "network_reason_code": "13.1",
            "balance_transactions": [{"id": "txn_1", "amount": -amount - 1500, "fee": 1500}], **fields}


def test_lost_then_emailed_once_to_staff_and_each_store(app, make_order, make_user, stores):
    lune, noor = stores
    make_user("staff", email="sam@covet.test")
    make_user("merchant", store=lune, email="margot@lune.test")
    make_user("merchant", store=noor, email="nadia@noor.test")
    order = make_order()
    charge = order_charge(order)
    dispute = apply_stripe_dispute(stripe_dispute(charge, order.total_amount, "needs_response"), int(time.time()))
    assert (dispute.fee_amount, dispute.network_reason_code, dispute.has_evidence) == (1500, "13.1", False)
    apply_stripe_dispute(stripe_dispute(charge, order.total_amount, "lost"), int(time.time()) + 10)
    apply_stripe_dispute(stripe_dispute(charge, order.total_amount, "lost"), int(time.time()) + 20)  # a redelivery
    closed = emails("dispute_closed")
    recipients = sorted(to for to, _ in closed)
    assert {"sam@covet.test", "margot@lune.test", "nadia@noor.test"} <= set(recipients)
    assert len(recipients) == len(set(recipients))
    assert all(context["outcome"] == "lost" and context["dispute_url"] == f"/admin/disputes/{dispute.id}"
               for _, context in closed)


def test_stores_hear_of_a_dispute_linked_to_its_order_later(app, make_order, make_user, stores):
    make_user("merchant", store=stores[0], email="margot@lune.test")
    order = make_order(stores=[stores[0]])
    early = stripe_dispute("ch_unknown_yet", order.total_amount, "needs_response")
    dispute = apply_stripe_dispute(early, int(time.time()))
    assert dispute.order_id is None and "margot@lune.test" not in [to for to, _ in emails("dispute_opened")]
    later = stripe_dispute(order_charge(order), order.total_amount, "needs_response")
    dispute = apply_stripe_dispute(later, int(time.time()) + 5)
    assert dispute.order_id == order.id
    assert "margot@lune.test" in [to for to, _ in emails("dispute_opened")]


def test_embedded_scheduler_sends_reminders_without_redis(app, make_order, make_dispute, make_user):
    make_user("staff", email="sam@covet.test")
    make_dispute(make_order(), due_in=dt.timedelta(hours=20))
    last_run: dict[str, float] = {}
    now = time.time()
    results = ticker.run_due(app, last_run, now)
    assert results["dispute-deadline-reminders"] >= 1
    reminders = [context for to, context in emails("dispute_opened") if to == "sam@covet.test"]
    assert len(reminders) == 1 and reminders[0]["reminder"] is True
    # Nothing is due again a minute later; an hour later the task runs again and sends nothing twice.
    assert "dispute-deadline-reminders" not in ticker.run_due(app, last_run, now + 60)
    ticker.run_due(app, last_run, now + 3601)
    assert len([1 for to, _ in emails("dispute_opened") if to == "sam@covet.test"]) == 1


def test_scheduler_thread_stays_off_with_redis_or_in_tests(app):
    assert ticker.start(app) is False  # tests: EMBEDDED_SCHEDULER is off


def order_charge(order) -> str:
    from covet.payments.models import Payment

    return db.session.scalar(select(Payment.charge_id).where(Payment.order_id == order.id))
