"""Handlers: paid once, stock sold without overselling, any arrival order gives the same end state."""
import contextlib
import itertools

import pytest
from sqlalchemy import func, select

from covet.catalog.models import InventoryAdjustment, Variant
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order
from covet.payments.models import Payment, Refund, Transfer
from covet.webhooks import services
from covet.webhooks.models import StripeEvent
from tests.webhooks.support import charge_refunded, intent_event, post, session_completed


def run_queued(app):
    """What workers do: run the queued jobs (events, transfers); with Redis through a real SimpleWorker."""
    wait_for_embedded_jobs()
    if app.config.get("REDIS_URL"):
        from redis import Redis
        from rq import Queue, SimpleWorker

        connection = Redis.from_url(app.config["REDIS_URL"])
        SimpleWorker([Queue("high", connection=connection)], connection=connection).work(burst=True)


def deliver(client, db, *events):
    """Post events in this order, then process them; events that failed are retried, as RQ would."""
    from flask import current_app

    for body in events:
        assert post(client, body).status_code == 200
    run_queued(current_app)
    for _ in range(len(events)):
        waiting = db.session.scalars(select(StripeEvent.id).where(StripeEvent.status.in_(("pending", "failed")))).all()
        for row_id in waiting:
            with contextlib.suppress(Exception):  # it is retried in the next round, as RQ would
                services.process(row_id)
        run_queued(current_app)
        if not waiting:
            break
    db.session.expire_all()


def state(db, order_id):
    order = db.session.get(Order, order_id)
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order_id))
    return {"payment_status": order.payment_status, "refunded": order.refunded_amount, "state": order.state,
            "payment": (payment.status, payment.checkout_session_id, payment.payment_intent_id, payment.charge_id),
            "stock": db.session.scalar(select(Variant.stock_on_hand)),
            "sold_rows": db.session.scalar(select(func.count()).select_from(InventoryAdjustment)),
            "emails": sorted(db.session.scalars(select(EmailOutbox.idempotency_key))),
            "refunds": sorted(db.session.scalars(select(Refund.stripe_refund_id))),
            "transfers": db.session.scalar(select(func.count()).select_from(Transfer))}


def test_checkout_completed_pays_sells_emails_and_books_a_transfer(client, db, make_order):
    order = make_order(quantity=2)
    deliver(client, db, session_completed(order))
    result = state(db, order.id)
    assert result["payment_status"] == "paid" and result["stock"] == 8 and result["sold_rows"] == 1
    assert result["emails"] == ["order-confirmation:CV-1"] and result["transfers"] == 1
    transfer = db.session.scalar(select(Transfer))
    assert (transfer.amount + transfer.commission_amount, transfer.transfer_group) == (10000, "CV-1")
    assert transfer.status == "waiting"  # the store has no Connect account yet: nothing sent, staff can see it


ORDERINGS = list(itertools.permutations(["completed", "succeeded", "failed", "refunded"]))


@pytest.mark.parametrize("ordering", ORDERINGS[::5] + [ORDERINGS[-1]])
def test_every_arrival_order_converges(client, db, make_order, ordering):
    order = make_order()
    events = {"completed": session_completed(order, created=100), "succeeded": intent_event(order, created=101),
              "failed": intent_event(order, "payment_intent.payment_failed", created=99, intent="pi_old"),
              "refunded": charge_refunded(order, 1500, created=102)}
    deliver(client, db, *(events[name] for name in ordering))
    result = state(db, order.id)
    assert result["payment_status"] == "partially_refunded" and result["refunded"] == 1500
    assert result["stock"] == 9 and result["sold_rows"] == 1
    assert result["emails"] == ["order-confirmation:CV-1"] and result["refunds"] == ["re_CV-1_1500"]


def test_failed_payment_is_recorded_and_never_undoes_a_success(client, db, make_order):
    order = make_order()
    deliver(client, db, intent_event(order, "payment_intent.payment_failed"))
    assert db.session.get(Order, order.id).payment_status == "failed"
    deliver(client, db, intent_event(order))
    deliver(client, db, intent_event(order, "payment_intent.payment_failed"))
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert db.session.get(Order, order.id).payment_status == "paid" and payment.status == "succeeded"


def test_oversold_lines_are_flagged_for_staff(client, db, make_order):
    big = make_order("CV-BIG", quantity=12)
    deliver(client, db, session_completed(big))
    order = db.session.get(Order, big.id)
    assert order.payment_status == "paid" and "oversold: 12 ordered, 10 in stock" in order.lines[0].stock_problem
    assert [t.tag for t in order.tags] == ["stock-problem"]
    assert db.session.scalar(select(Variant.stock_on_hand)) == 10  # never negative, nothing half-sold


def test_replay_changes_nothing(client, db, make_order, login_as):
    order = make_order()
    deliver(client, db, session_completed(order))
    before = state(db, order.id)
    row = db.session.scalar(select(StripeEvent))
    from covet.audit.services import Actor

    assert services.replay(row.id, Actor.system("test"))
    wait_for_embedded_jobs()
    services.process(row.id)
    db.session.expire_all()
    assert state(db, order.id) == before


def test_a_failing_event_counts_its_attempts_and_keeps_the_traceback(client, db, make_order):
    order = make_order()
    early = charge_refunded(order, 500)  # before anything tells us which order the charge belongs to
    assert post(client, early).status_code == 200
    run_queued(__import__("flask").current_app)
    for _ in range(2):
        row = db.session.scalar(select(StripeEvent))
        with contextlib.suppress(Exception):
            services.process(row.id)
    db.session.expire_all()
    row = db.session.scalar(select(StripeEvent))
    assert row.status == "failed" and row.attempts >= 2 and "Traceback" in row.last_error
    assert "OrderNotYetKnownError" in row.last_error
