"""~2,000 events, 10 % duplicated, in random order, through three worker processes: the same end state as
in-order processing, and every email delivered exactly once (counted at a real SMTP sink)."""
import os
import random
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from covet.catalog.models import InventoryAdjustment, Product, Variant
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order, OrderLine
from covet.payments.models import Payment, Refund
from covet.payouts.models import Payout
from covet.stores.models import Store
from covet.webhooks import services
from covet.webhooks.models import StripeEvent
from tests.conftest import REDIS_URL, _empty_tables, requires_redis_server
from tests.webhooks.support import charge_refunded, event, intent_event, post, session_completed

ROOT = Path(__file__).resolve().parents[2]
ORDERS, PAYOUTS = 500, 160


def build_world(db):
    """Stores, stock enough for everyone (so who gets stock cannot depend on order), orders."""
    shop = Store(name="Lune", slug="lune", currency="eur")
    paid_out = Store(name="Noor", slug="noor", currency="eur", stripe_account_id="acct_noor",
                     support_email="noor@example.com")
    db.session.add_all([shop, paid_out])
    db.session.flush()
    product = Product(store_id=shop.id, title="Scarf", slug="scarf", status="active")
    db.session.add(product)
    db.session.flush()
    variants = [Variant(product_id=product.id, store_id=shop.id, sku=f"S-{i}", price_amount=1000 + i,
                        currency="eur", stock_on_hand=100_000) for i in range(5)]
    db.session.add_all(variants)
    db.session.flush()
    rng = random.Random(7)
    orders = []
    for n in range(ORDERS):
        variant, quantity = rng.choice(variants), rng.randint(1, 3)
        total = variant.price_amount * quantity
        orders.append(Order(number=f"T-{n:04d}", email=f"c{n}@example.com", currency="eur",
                            total_amount=total, subtotal_amount=total,
                            lines=[OrderLine(store_id=shop.id, variant_id=variant.id, product_title="Scarf",
                                             variant_title="Default", sku=variant.sku, quantity=quantity,
                                             unit_price_amount=variant.price_amount)]))
    db.session.add_all(orders)
    db.session.commit()
    return orders


def all_events(orders):
    events = []
    for n, order in enumerate(orders):
        events += [session_completed(order, created=1000 + n), intent_event(order, created=1001 + n),
                   intent_event(order, "payment_intent.payment_failed", created=999 + n, intent="pi_old")]
        if n % 3 == 0:
            events.append(charge_refunded(order, order.total_amount // 2, created=1002 + n))
    for n in range(PAYOUTS):
        events.append(event("payout.paid", {"id": f"po_{n}", "object": "payout", "amount": 10_000 + n,
                                            "currency": "eur", "status": "paid", "arrival_date": 1_790_000_000},
                            created=2000 + n, account="acct_noor"))
    return events


def snapshot(db) -> dict:
    return {
        "orders": {o.number: (o.payment_status, o.refunded_amount, o.state, sorted(t.tag for t in o.tags))
                   for o in db.session.scalars(select(Order))},
        "payments": sorted((p.status, p.payment_intent_id, p.charge_id) for p in db.session.scalars(select(Payment))),
        "stock": {v.sku: v.stock_on_hand for v in db.session.scalars(select(Variant))},
        "ledger": db.session.execute(select(InventoryAdjustment.reason, func.count(),
                                            func.sum(InventoryAdjustment.delta))
                                     .group_by(InventoryAdjustment.reason)).all(),
        "refunds": sorted(db.session.scalars(select(Refund.stripe_refund_id))),
        "payouts": sorted((p.stripe_payout_id, p.status, p.amount) for p in db.session.scalars(select(Payout))),
        "emails": sorted(db.session.scalars(select(EmailOutbox.idempotency_key))),
    }


def drain(workers: int, env: dict) -> None:
    """Run `workers` real worker processes at once until the queue is empty; then retry what failed."""
    # --simple: jobs run in each worker process (no fork per job), which keeps 3,000 jobs quick
    processes = [subprocess.Popen([sys.executable, "worker.py", "high", "--burst", "--simple"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    for process in processes:
        assert process.wait(timeout=600) == 0


def retry_failed(db, env) -> None:
    """What RQ's retries do, without waiting for their backoff (a round with nothing to retry ends them: the
    queue is already empty, so another worker would find no work)."""
    for _ in range(3):
        db.session.rollback()  # see what the worker processes committed
        failed = db.session.scalars(select(StripeEvent.id).where(StripeEvent.status.in_(("failed", "pending")))).all()
        if not failed:
            return
        for row_id in failed:
            try:
                services.process(row_id)
            except Exception:  # noqa: BLE001, S112 - the next round retries it
                continue
        drain(1, env)


@requires_redis_server
def test_shuffled_duplicated_events_converge(app, db, database_url, smtp_sink, redis_conn):
    app.config["WEBHOOK_RATE_LIMIT"] = "100000 per minute"  # the test posts 4,000 events in seconds
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "COVET_ENV": "testing",
           "SECRET_KEY": "s" * 40, "SMTP_URL": smtp_sink.url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    events = all_events(build_world(db))
    for body in events:  # in order, one worker
        assert post(app.test_client(), body).status_code == 200
    drain(1, env)
    retry_failed(db, env)
    expected = snapshot(db)
    in_order_messages = len(smtp_sink.messages)

    _empty_tables()
    smtp_sink.messages.clear()
    events = all_events(build_world(db))
    rng = random.Random(2026)
    noisy = events + rng.sample(events, len(events) // 9)  # ~10 % of the deliveries are duplicates
    rng.shuffle(noisy)
    assert len(noisy) >= 2000
    client = app.test_client()
    for body in noisy:
        assert post(client, body).status_code == 200
    drain(3, env)
    retry_failed(db, env)
    db.session.expire_all()

    assert snapshot(db) == expected
    ids = [m["message"]["Message-ID"] for m in smtp_sink.messages]
    assert len(ids) == len(set(ids)) == len(expected["emails"]) == in_order_messages
