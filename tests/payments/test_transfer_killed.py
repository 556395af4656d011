"""A worker SIGKILLed after Stripe created a transfer but before it recorded it: the job is recovered, runs
again under the same idempotency key, and the store gets exactly one transfer."""
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.jobs.recovery import recover_lost_jobs
from covet.orders.models import Order, OrderLine
from covet.payments.models import Transfer
from covet.payments.services import mark_order_paid
from tests.conftest import REDIS_URL, requires_redis_server

ROOT = Path(__file__).resolve().parents[2]


def _run_due(connection) -> None:
    """Run what is queued, and the retries RQ scheduled (as if their backoff had passed)."""
    queue = Queue("high", connection=connection)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        registry.remove(job_id)
        queue.enqueue_job(Job.fetch(job_id, connection=connection))
    SimpleWorker([queue], connection=connection).work(burst=True)


@requires_redis_server
def test_a_transfer_killed_between_stripe_and_the_database_is_sent_once(app, db, database_url, shop, stripe_fake,
                                                                        redis_conn):
    order = Order(number="CV-K1", email="olivia@example.com", currency="eur", total_amount=25000,
                  subtotal_amount=25000, lines=[OrderLine(store_id=shop.store_id, variant_id=shop.id, quantity=1,
                                                          product_title="Silk Scarf", variant_title="Default",
                                                          sku="SCARF-1", unit_price_amount=25000)])
    db.session.add(order)
    db.session.commit()
    stripe_fake.hold_answers_to(r"/v1/transfers")  # Stripe makes the transfer; its answer never arrives
    assert mark_order_paid(order)
    db.session.commit()  # send_transfers goes to RQ
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "COVET_ENV": "testing",
           "SECRET_KEY": "s" * 40, "PYTHONPATH": str(ROOT), "STRIPE_SECRET_KEY": "sk_test_covet_peer",
           "STRIPE_API_BASE": stripe_fake.url}
    worker = subprocess.Popen([sys.executable, "worker.py", "high"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert stripe_fake.held.wait(90), "the worker never asked Stripe for the transfer"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # after Stripe acted, before our database heard of it
        worker.wait(timeout=30)
        stripe_fake.hold_answers_to(None)
    assert len(stripe_fake.objects_of("transfer")) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Transfer.stripe_transfer_id)) is None

    recover_lost_jobs(app, now=utcnow() + dt.timedelta(hours=1))  # RQ retries it, or we send it again
    _run_due(redis_conn)
    db.session.expire_all()
    [made] = stripe_fake.objects_of("transfer")  # the retry's same idempotency key: Stripe's answer replayed
    transfer = db.session.scalar(select(Transfer))
    assert (transfer.stripe_transfer_id, transfer.status, transfer.amount) == (made["id"], "created", 22500)
