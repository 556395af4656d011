"""An order's one timeline: the order, its Stripe events, emails, audit entries, notes, shipments and refunds."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.notifications.models import EmailOutbox
from covet.orders import timeline
from covet.orders.detail import load_detail
from covet.webhooks.models import StripeEvent
from tests.webhooks.support import SECRET, event, session_completed


@pytest.fixture
def webhooks_on(app):
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET


def deliver(client, db, body):
    from tests.webhooks.test_handlers import deliver as deliver_and_process

    deliver_and_process(client, db, body)


def test_a_webhook_event_is_linked_to_the_order_its_handler_found(client, db, make_order, webhooks_on):
    order = make_order(payment_status="unpaid", with_payment=False)
    deliver(client, db, session_completed(order))
    stored = db.session.scalar(select(StripeEvent))
    assert (stored.status, stored.order_id) == ("processed", order.id)
    confirmation = db.session.scalar(select(EmailOutbox).where(EmailOutbox.template == "order_confirmation"))
    assert confirmation.order_id == order.id


def test_events_naming_no_order_of_ours_stay_unlinked(client, db, make_order, webhooks_on):
    deliver(client, db, event("payout.paid", {"id": "po_1", "object": "payout", "amount": 100, "currency": "eur",
                                              "status": "paid", "arrival_date": 1700000000}))
    deliver(client, db, event("checkout.session.expired", {"id": "cs_nobody", "object": "checkout.session",
                                                           "metadata": {}}))
    assert db.session.scalars(select(StripeEvent.order_id)).all() == [None, None]


def test_a_failing_event_is_linked_too_and_a_replay_never_unlinks_it(app, client, db, make_order, webhooks_on,
                                                                      monkeypatch):
    from covet.payments import services as payments
    from covet.webhooks import services

    order = make_order(payment_status="unpaid", with_payment=False)

    def broken(order):
        raise RuntimeError("boom")

    monkeypatch.setattr(payments, "mark_order_paid", broken)
    deliver(client, db, session_completed(order))
    stored = db.session.scalar(select(StripeEvent))
    assert (stored.status, stored.order_id) == ("failed", order.id)
    monkeypatch.undo()
    assert services.process(stored.id) == "processed"
    db.session.expire_all()
    assert db.session.get(StripeEvent, stored.id).order_id == order.id


def test_the_page_timeline_merges_every_source_newest_first(client, db, login_as, make_order, webhooks_on,
                                                            staff_actor):
    from covet.orders.fulfilment import fulfil_order
    from covet.orders.services import add_note, assign

    order = make_order(payment_status="unpaid", with_payment=False)
    deliver(client, db, session_completed(order))
    assign(order.id, staff_actor.user_id, staff_actor)
    add_note(order.id, "Wrap it as a gift", staff_actor)
    fulfil_order(order.id, order.lines[0].store_id, staff_actor, "dhl", "JD0001", None, "ship-key-1")
    db.session.add(EmailOutbox(template="shipping_notification", recipient=order.email, idempotency_key="older",
                               status="sent", sent_at=utcnow() - dt.timedelta(days=3), order_id=order.id))
    db.session.commit()
    login_as("staff")
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    section = html[html.index('id="order-timeline"'):]
    section = section[:section.index("</ol>")]
    for text in ("checkout.session.completed", "Email: Order confirmation", f"to {order.email}", "Assigned",
                 f"assignee: — → {staff_actor.email}", "Wrap it as a gift", "Shipped by Lune", "JD0001",
                 "Order placed", "Paid"):
        assert text in section, text
    assert "Note added" not in section  # the note itself stands there, not its audit entry twice
    kinds = [line.split('data-kind="')[1].split('"')[0] for line in section.split("<li ")[1:]]
    assert kinds[-1] in ("order", "email") and "webhook" in kinds and "audit" in kinds
    assert section.index("Shipped by Lune") < section.index("Order placed")  # newest first
    assert section.rindex("Email: Shipping notification") > section.index("Order placed")  # 3 days ago: last


def test_a_merchant_timeline_holds_only_their_part(db, make_order, stores, merchant_of, staff_actor):
    from covet.orders.fulfilment import fulfil_order
    from covet.orders.services import add_note

    lune, noor = stores
    order = make_order()
    fulfil_order(order.id, noor.id, staff_actor, "ups", "1Z999AA10123456784", None, "noor-ship")
    fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD0002", None, "lune-ship")
    add_note(order.id, "staff only", staff_actor)
    db.session.add(StripeEvent(event_id="evt_x", type="charge.refunded", payload={}, status="processed",
                               order_id=order.id))
    db.session.add(EmailOutbox(template="order_confirmation", recipient=order.email, idempotency_key="conf",
                               order_id=order.id))
    db.session.commit()
    entries = load_detail(merchant_of(lune), order.id).timeline
    kinds = {entry.kind for entry in entries}
    assert "webhook" not in kinds and "email" not in kinds and "note" not in kinds
    shipped = [entry for entry in entries if entry.kind == "fulfilment"]
    assert [entry.title for entry in shipped] == ["Shipped by Lune"]
    assert all("€500.00" not in entry.detail for entry in entries)  # the order total is not theirs
    staff_kinds = {entry.kind for entry in load_detail(staff_actor, order.id).timeline}
    assert {"webhook", "email", "note", "fulfilment", "order"} <= staff_kinds


def test_change_summary_reads_like_a_sentence():
    summary = timeline.change_summary({"state": "open", "assignee_id": None}, {"state": "cancelled", "assignee_id": 7,
                                                                               "amount": 1250, "tags": ["gift", "vip"]},
                                      "eur", {"assignee_id": {7: "ana@covet.test"}})
    assert summary == "amount: €12.50; assignee: — → ana@covet.test; state: open → cancelled; tags: gift, vip"
    assert timeline.change_summary(None, {"lines": {"3": 2}}, "eur", {"lines": {"3": "SKU-3"}}) == "lines: SKU-3 × 2"
    assert len(timeline.change_summary(None, {"reason": "x" * 500}, "eur")) == 300
