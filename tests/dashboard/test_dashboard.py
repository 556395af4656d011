"""The home dashboard: figures per role, a merchant's own store only, the polled cards, bounded queries."""
from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest

from covet.dashboard import queries
from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.jobs.models import JobOutbox
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order, OrderLine
from covet.webhooks.models import StripeEvent

_numbers = itertools.count(1)


@pytest.fixture
def shop(make_store):
    """Two eur stores and a usd one."""
    return {"lune": make_store("lune"), "noor": make_store("noor"), "kes": make_store("kes", currency="usd")}


@pytest.fixture
def order(db):
    """order({store: amount, …}, payment_status=…, paid_at=…, created_at=…, refunded=…): one line per store."""
    def make(amounts: dict, payment_status="paid", paid_at=None, created_at=None, refunded=0, currency=None):
        n = next(_numbers)
        now = utcnow()
        total = sum(amounts.values())
        made = Order(number=f"CV-T{n:05d}", email=f"buyer{n}@example.test", payment_status=payment_status,
                     currency=currency or next(iter(amounts)).currency, total_amount=total, subtotal_amount=total,
                     refunded_amount=refunded, created_at=created_at or now,
                     paid_at=paid_at or (now if payment_status in ("paid", "partially_refunded") else None),
                     lines=[OrderLine(store_id=store.id, product_title="Bag", sku=f"SKU-{n}-{store.id}",
                                      unit_price_amount=amount, quantity=1) for store, amount in amounts.items()])
        db.session.add(made)
        db.session.commit()
        return made
    return make


def _figure(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>', page, re.DOTALL)
    assert match, f"no #{element_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _failures(db):
    db.session.add_all([
        EmailOutbox(template="order_confirmation", recipient="a@example.test", idempotency_key="e1", status="failed"),
        EmailOutbox(template="order_confirmation", recipient="b@example.test", idempotency_key="e2", status="sent"),
        StripeEvent(event_id="evt_1", type="charge.refunded", payload={}, status="failed"),
        StripeEvent(event_id="evt_2", type="charge.refunded", payload={}, status="failed"),
        JobOutbox(job_id="job-1", func="covet.jobs.x", queue="default", timeout=60, status="failed"),
        JobOutbox(job_id="job-2", func="covet.jobs.y", queue="default", timeout=60, status="pending")])
    db.session.commit()


def test_staff_see_every_store_and_failing_work(app, db, client, login_as, shop, order):
    order({shop["lune"]: 10_000, shop["noor"]: 5_000})
    order({shop["kes"]: 2_500})
    order({shop["noor"]: 7_000}, refunded=2_000, payment_status="partially_refunded")
    order({shop["lune"]: 99_000}, payment_status="unpaid")
    order({shop["lune"]: 40_000}, created_at=utcnow() - dt.timedelta(days=3), paid_at=utcnow() - dt.timedelta(days=2))
    _failures(db)
    login_as("staff")

    response = client.get("/admin/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page and "HX-Request" in response.headers["Vary"]
    assert _figure(page, "orders-today") == "4"
    assert _figure(page, "revenue-today") == "€200.00 · $25.00"  # 150 + (70 - 20) eur; unpaid not counted
    assert _figure(page, "failing-work") == "1 / 2"
    assert _figure(page, "failed-jobs") == "1 failed job"
    assert 'href="/admin/jobs/"' not in page  # the jobs page is the admins'
    assert page.count("<rect") == 30 and "Revenue, last 30 days (EUR)" in page


def test_admins_get_a_link_to_the_failed_jobs(db, client, login_as):
    _failures(db)
    login_as("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert re.search(r'id="failed-jobs"><a href="/admin/jobs/">1 failed job</a>', page)


def test_failed_rq_jobs_count_across_queues(app, db, client, login_as, redis_conn):
    from rq import Queue
    from rq.registry import FailedJobRegistry

    for name, jobs in (("high", 2), ("default", 1), ("low", 0)):
        queue = Queue(name, connection=redis_conn)
        for n in range(jobs):
            job = queue.enqueue("covet.jobs.nothing", job_id=f"dash-{name}-{n}")
            FailedJobRegistry(queue=queue).add(job, ttl=600)
    _failures(db)
    login_as("staff")
    page = client.get("/admin/").get_data(as_text=True)
    assert _figure(page, "failed-jobs") == "4 failed jobs"  # 3 in RQ's registries + 1 outbox row


def test_an_unreachable_redis_does_not_break_the_dashboard(app, client, login_as, db):
    from tests.conftest import free_port

    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    app.extensions.pop("covet_redis", None)
    try:
        login_as("staff")
        page = client.get("/admin/").get_data(as_text=True)
        assert _figure(page, "failed-jobs") == "Failed jobs: queue unreachable"
    finally:
        app.extensions.pop("covet_redis", None)


def test_a_merchant_sees_only_its_own_lines(db, client, login_as, shop, order):
    merchant = login_as("merchant", store=shop["lune"])
    mixed = order({shop["lune"]: 10_000, shop["noor"]: 5_000})
    order({shop["noor"]: 8_000})
    order({shop["lune"]: 3_000}, paid_at=utcnow() - dt.timedelta(days=1), created_at=utcnow() - dt.timedelta(days=1))
    _failures(db)

    page = client.get("/admin/").get_data(as_text=True)
    assert merchant.store_id == shop["lune"].id
    assert _figure(page, "orders-today") == "1"
    assert _figure(page, "revenue-today") == "€100.00"  # its line of the mixed order, not Noor's
    assert 'id="failing-work"' not in page and 'id="failed-jobs"' not in page
    assert f'id="order-row-{mixed.id}"' in page and "CV-T" in page
    currency, series = queries.revenue_by_day(shop["lune"].id)
    assert currency == "eur" and sum(d.amount for d in series) == 13_000
    assert [d.amount for d in series][-2:] == [3_000, 10_000]


def test_the_polled_cards_come_alone_for_htmx(client, login_as, shop, order, htmx_headers):
    order({shop["lune"]: 10_000})
    login_as("staff")
    fragment = client.get("/admin/", headers=htmx_headers)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and "HX-Request" in fragment.headers["Vary"]
    assert body.lstrip().startswith('<section class="cards" id="today"')
    assert 'id="today"' in body and 'hx-trigger="every 60s"' in body and _figure(body, "orders-today") == "1"
    assert 'id="revenue-chart"' not in body and 'id="recent-orders"' not in body
    restore = client.get("/admin/", headers={**htmx_headers, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_revenue_by_day_counts_payment_days_and_refunds(app, shop, order):
    now = utcnow()
    order({shop["lune"]: 10_000}, paid_at=now - dt.timedelta(days=1))
    order({shop["lune"]: 6_000}, paid_at=now - dt.timedelta(days=1), refunded=1_000,
          payment_status="partially_refunded")
    order({shop["lune"]: 9_000}, paid_at=now - dt.timedelta(days=31))  # outside the window
    order({shop["lune"]: 9_000}, payment_status="refunded", refunded=9_000, paid_at=now)
    order({shop["kes"]: 1_000})
    currency, series = queries.revenue_by_day(None)
    assert currency == "eur" and len(series) == 30 and series[-1].day == now.date()
    assert series[-2].amount == 15_000 and series[-1].amount == 0 and sum(d.amount for d in series) == 15_000


def test_a_merchants_old_order_paid_today_still_counts(db, shop, order):
    """The chart reaches lines by order id from the window's smallest paid order id: an order placed long ago
    (a small id) and paid today is inside the window, so it sets that bound itself."""
    old = order({shop["lune"]: 4_000}, payment_status="unpaid", created_at=utcnow() - dt.timedelta(days=90))
    order({shop["lune"]: 1_000})
    old.payment_status, old.paid_at = "paid", utcnow()
    db.session.commit()
    _, series = queries.revenue_by_day(shop["lune"].id)
    assert series[-1].amount == 5_000
    assert queries.today_summary(shop["lune"].id)["revenue"] == {"eur": 5_000}


def test_recent_orders_for_a_merchant_without_sales_is_empty(shop, order):
    order({shop["noor"]: 1_000})
    assert queries.recent_orders(shop["lune"].id) == []
    mine = [order({shop["lune"]: 1_000 + n}) for n in range(10)]
    assert [o.id for o in queries.recent_orders(shop["lune"].id)] == [o.id for o in reversed(mine)][:8]


def test_disputes_due_soon_are_scoped_and_counted(db, client, login_as, shop, order, monkeypatch):
    mine, theirs = order({shop["lune"]: 1_000}), order({shop["noor"]: 1_000})
    for n, (target, days) in enumerate([(mine, 2), (mine, 5), (theirs, 1), (mine, 30)]):
        db.session.add(Dispute(stripe_dispute_id=f"dp_{n}", charge_id=f"ch_{n}", order_id=target.id, amount=1_000,
                               currency="eur", reason="fraudulent", status="needs_response",
                               evidence_due_by=utcnow() + dt.timedelta(days=days)))
    db.session.commit()
    assert queries.disputes_due_count(None) == 3 and queries.disputes_due_count(shop["lune"].id) == 2
    assert [d.order_id for d in queries.disputes_due_soon(shop["lune"].id)] == [mine.id, mine.id]
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    login_as("staff")
    assert _figure(client.get("/admin/").get_data(as_text=True), "disputes-due-count") == "2+"
