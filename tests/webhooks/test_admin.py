"""/admin/webhooks: the stored events for admins only, escaped payloads, Replay that changes nothing twice."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.catalog.models import InventoryAdjustment, Variant
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order
from covet.payments.models import Transfer
from covet.webhooks import queries
from covet.webhooks.admin_views import bp
from covet.webhooks.models import StripeEvent
from tests.conftest import csrf_from
from tests.webhooks.support import charge_refunded, event, post, session_completed

NOW = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def webhook_admin(app):
    """Register the screen until covet/__init__.py does (then this is a no-op); empty RQ's queues."""
    if "webhook_events" not in app.blueprints:
        app.register_blueprint(bp)
    if app.config.get("REDIS_URL"):
        from redis import Redis

        connection = Redis.from_url(app.config["REDIS_URL"])
        keys = list(connection.scan_iter("rq:*", count=1000))
        if keys:
            connection.delete(*keys)


def run_jobs(app):
    """What a worker does: the in-process jobs, or the high queue through a real SimpleWorker."""
    wait_for_embedded_jobs()
    if app.config.get("REDIS_URL"):
        from redis import Redis
        from rq import Queue, SimpleWorker

        connection = Redis.from_url(app.config["REDIS_URL"])
        SimpleWorker([Queue("high", connection=connection)], connection=connection).work(burst=True)


def store(db, type_, status="processed", minutes=0, error=None, obj=None, event_id=None):
    body = event(type_, obj or {"id": "obj_1"}, event_id=event_id)
    row = StripeEvent(event_id=body["id"], type=type_, payload=body, status=status, attempts=1, last_error=error,
                      received_at=NOW + dt.timedelta(minutes=minutes))
    db.session.add(row)
    db.session.commit()
    return row


def order_state(db, order_id):
    order = db.session.get(Order, order_id)
    return {"order": (order.payment_status, order.state, order.refunded_amount, order.version),
            "stock": db.session.scalar(select(Variant.stock_on_hand)),
            "ledger": db.session.scalar(select(func.count()).select_from(InventoryAdjustment)),
            "emails": db.session.scalar(select(func.count()).select_from(EmailOutbox)),
            "transfers": db.session.scalar(select(func.count()).select_from(Transfer))}


def test_admin_sees_events_newest_first_with_filters_and_search(client, db, login_as):
    trace = "Traceback (most recent call last):\n  File x\nOrderNotYetKnownError: no order yet"
    old = store(db, "charge.refunded", "failed", 0, error=trace)
    paid = store(db, "payment_intent.succeeded", "processed", 1, event_id="evt_findme")
    store(db, "customer.created", "ignored", 2)
    login_as("admin")
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert page.index("customer.created</td>") < page.index("payment_intent.succeeded</td>") \
        < page.index("charge.refunded</td>")
    assert "OrderNotYetKnownError: no order yet" in page and "Traceback" not in page  # the exception line
    assert '<option value="charge.refunded">' in page and '<option value="customer.created">' in page
    assert 'id="event-count-failed"' in page and f'href="/admin/webhooks/{old.id}"' in page
    failed = client.get("/admin/webhooks/?status=failed").get_data(as_text=True)
    assert f'id="event-row-{old.id}"' in failed and f'id="event-row-{paid.id}"' not in failed
    by_type = client.get("/admin/webhooks/?type=payment_intent.succeeded").get_data(as_text=True)
    assert f'id="event-row-{paid.id}"' in by_type and f'id="event-row-{old.id}"' not in by_type
    found = client.get("/admin/webhooks/?q=evt_findme").get_data(as_text=True)
    assert found.count('id="event-row-') == 1 and f'id="event-row-{paid.id}"' in found
    assert "No events match." in client.get("/admin/webhooks/?q=evt_nothing").get_data(as_text=True)


def test_keyset_pages_cover_every_event_once(client, db, login_as, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    ids = [store(db, "customer.created", minutes=n // 2).id for n in range(7)]  # pairs share a timestamp
    login_as("admin")
    seen, url = [], "/admin/webhooks/?type=customer.created"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += [int(part.split('"')[0]) for part in page.split('id="event-row-')[1:]]
        url = page.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&") \
            if 'id="next-page"' in page else None
    assert seen == sorted(ids, key=lambda i: (ids.index(i) // 2, i), reverse=True)


@pytest.mark.parametrize("role", ["staff", "merchant"])
def test_staff_and_merchants_are_refused(client, db, login_as, role):
    row = store(db, "charge.refunded", "failed")
    login_as(role)
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    assert client.get("/admin/webhooks/").status_code == 403
    assert client.get(f"/admin/webhooks/{row.id}").status_code == 403
    assert client.post(f"/admin/webhooks/{row.id}/replay", data={"csrf_token": token}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "webhook.replayed")) == 0


def test_payload_is_pretty_printed_and_escaped(client, db, login_as):
    row = store(db, "customer.created", obj={"id": "cus_1", "name": "<script>alert('x')</script>"},
                error="ValueError: <b>bold</b>")
    login_as("admin")
    page = client.get(f"/admin/webhooks/{row.id}").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert '<pre class="trace" id="event-payload">{\n  &#34;api_version&#34;' in page


def test_detail_is_a_fragment_for_htmx_and_a_page_otherwise(client, db, login_as, htmx_headers):
    row = store(db, "customer.created", "pending")
    login_as("admin")
    full = client.get(f"/admin/webhooks/{row.id}")
    part = client.get(f"/admin/webhooks/{row.id}", headers=htmx_headers)
    listed = client.get("/admin/webhooks/?status=pending", headers=htmx_headers)
    assert "<html" in full.get_data(as_text=True) and 'id="event-payload"' in full.get_data(as_text=True)
    body = part.get_data(as_text=True)
    assert "<html" not in body and 'id="event-summary"' in body and 'id="event-payload"' not in body
    assert 'hx-trigger="every 2s"' in body  # pending: htmx keeps it fresh until the worker settles it
    assert "<html" not in listed.get_data(as_text=True) and 'id="event-list"' in listed.get_data(as_text=True)
    assert all("HX-Request" in r.headers["Vary"] for r in (full, part, listed))


def test_replaying_a_processed_checkout_changes_nothing_and_is_audited(app, client, db, make_order, login_as):
    order = make_order()
    assert post(client, session_completed(order)).status_code == 200
    run_jobs(app)
    row = db.session.scalar(select(StripeEvent))
    before = order_state(db, order.id)
    assert before["order"][0] == "paid" and before["stock"] == 9 and row.status == "processed"
    admin = login_as("admin")
    token = csrf_from(client.get(f"/admin/webhooks/{row.id}").get_data(as_text=True))
    response = client.post(f"/admin/webhooks/{row.id}/replay", data={"csrf_token": token, "view": "detail"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/webhooks/{row.id}")
    run_jobs(app)
    db.session.expire_all()
    assert order_state(db, order.id) == before
    assert (row.status, row.attempts) == ("processed", 2)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "webhook.replayed"))
    assert (entry.entity_type, entry.entity_id, entry.actor_id) == ("stripe_event", str(row.id), admin.id)
    assert "Event queued for processing again." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_failed_event_replays_into_processed_once_the_order_exists(app, client, db, make_order, login_as,
                                                                     htmx_headers):
    order = make_order()
    assert post(client, charge_refunded(order, 1500)).status_code == 200
    run_jobs(app)
    row = db.session.scalar(select(StripeEvent))
    assert row.status == "failed" and "OrderNotYetKnownError" in row.last_error
    assert post(client, session_completed(order)).status_code == 200  # now we know the charge's order
    run_jobs(app)
    login_as("admin")
    page = client.get("/admin/webhooks/?status=failed").get_data(as_text=True)
    assert f'action="/admin/webhooks/{row.id}/replay"' in page
    response = client.post(f"/admin/webhooks/{row.id}/replay", data={"view": "row"},
                           headers={**htmx_headers, "X-CSRFToken": csrf_from(page)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and f'<tr id="event-row-{row.id}">' in body
    assert '<section class="cards" id="event-counts" hx-swap-oob="true">' in body
    assert "Event queued for processing again." in response.headers["HX-Trigger"]
    run_jobs(app)
    db.session.expire_all()
    assert row.status == "processed" and row.last_error is None
    assert order_state(db, order.id)["order"][:3] == ("partially_refunded", "open", 1500)


def test_htmx_replay_on_the_event_page_returns_its_summary(client, db, login_as, htmx_headers):
    row = store(db, "customer.created", "failed", error="RuntimeError: boom")
    login_as("admin")
    token = csrf_from(client.get(f"/admin/webhooks/{row.id}").get_data(as_text=True))
    response = client.post(f"/admin/webhooks/{row.id}/replay", data={"view": "detail"},
                           headers={**htmx_headers, "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="event-summary"' in body
    assert "toast" in response.headers["HX-Trigger"]


def test_replay_needs_a_csrf_token_and_a_real_event(client, db, login_as):
    row = store(db, "customer.created", "failed")
    login_as("admin")
    token = csrf_from(client.get("/admin/webhooks/").get_data(as_text=True))
    assert client.post(f"/admin/webhooks/{row.id}/replay").status_code == 400
    assert client.post("/admin/webhooks/999999/replay", data={"csrf_token": token}).status_code == 404
    assert client.get("/admin/webhooks/999999").status_code == 404
    db.session.refresh(row)
    assert row.status == "failed"
