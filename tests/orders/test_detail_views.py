"""The order page and its actions over HTTP: htmx fragments, plain forms, refusals, scoping, bounded queries."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event, func, select

from covet.audit.services import Actor
from covet.catalog.models import Product, Variant
from covet.media.models import Media
from covet.notifications.models import EmailOutbox
from covet.orders.models import Fulfilment, Order, OrderLine, OrderNote
from covet.payments.models import Payment, Refund
from tests.conftest import csrf_from
from tests.web.test_shell import InlineFinder


def page(client, order, **headers):
    response = client.get(f"/admin/orders/{order.id}", headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def form_fields(html: str, form_id: str) -> dict:
    """The named values a form would submit as rendered (its inputs; checkboxes only when ticked)."""
    match = re.search(rf'<form [^>]*id="{form_id}".*?</form>', html, re.S) or \
        re.search(rf'<form [^>]*class="{form_id}".*?</form>', html, re.S)
    assert match, f"no form {form_id}"
    inputs = re.findall(r"<input [^>]*>", match.group(0))
    return dict(re.search(r'name="([^"]+)"[^>]*?value="([^"]*)"', tag).groups() for tag in inputs
                if 'value="' in tag and ('type="checkbox"' not in tag or " checked" in tag))


def toast_of(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["toast"]


@pytest.fixture
def lune(stores):
    return stores[0]


@pytest.fixture
def noor(stores):
    return stores[1]


# --- the page --------------------------------------------------------------------------------------------------

def test_staff_page_in_full_and_as_a_fragment(client, db, login_as, make_order, htmx_headers):
    order = make_order()
    db.session.execute(Order.__table__.update().values(customer_ip="203.0.113.9",
                                                       shipping_address={"line1": "12 Rue de la Paix",
                                                                         "city": "Paris", "country": "FR"}))
    db.session.commit()
    login_as("staff")
    full = client.get(f"/admin/orders/{order.id}")
    html = full.get_data(as_text=True)
    assert "<html" in html and 'id="order-detail"' in html and "HX-Request" in full.headers["Vary"]
    for text in (order.number, "LUNE-BAG-1", "NOOR-BAG-1", "€500.00", order.email, "203.0.113.9", "12 Rue de la Paix",
                 'id="fulfil"', 'id="refund"', 'id="cancel"', 'id="assignment"', 'id="notes"', 'id="order-timeline"',
                 "ch_test_"):
        assert text in html, text
    assert re.search(r'<select name="carrier" autofocus', html)  # the `f` key lands on #fulfil's first field
    fragment = page(client, order, **htmx_headers)
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="order-detail"')
    assert "autofocus" not in fragment  # a swap never steals the focus


@pytest.mark.parametrize("role", ["staff", "merchant"])
def test_page_has_no_inline_script_or_style(client, db, login_as, make_order, lune, role):
    order = make_order()
    login_as(role, store=lune if role == "merchant" else None)
    finder = InlineFinder()
    finder.feed(page(client, order))
    assert finder.problems == []


def test_merchant_sees_only_their_lines_and_no_money_or_staff_forms(client, db, login_as, make_order, lune, noor):
    order = make_order()
    other = make_order(stores=[noor])
    db.session.execute(Order.__table__.update().values(customer_ip="203.0.113.9"))
    db.session.commit()
    login_as("merchant", store=lune)
    html = page(client, order)
    assert "LUNE-BAG-1" in html and "NOOR-BAG-1" not in html and "Noor" not in html
    assert "€250.00" in html and "€500.00" not in html and "Your lines" in html
    for absent in ('id="refund"', 'id="cancel"', 'id="order-payments"', 'id="assignment"', "203.0.113.9",
                   "ch_test_", f'name="store_id" value="{noor.id}"'):
        assert absent not in html, absent
    assert 'id="fulfil"' in html and 'id="notes"' in html
    assert client.get(f"/admin/orders/{other.id}").status_code == 404
    csrf = csrf_from(html)
    assert client.post(f"/admin/orders/{order.id}/refund", data={"amount": "1", "csrf_token": csrf}).status_code == 403
    assert client.post(f"/admin/orders/{order.id}/cancel", data={"confirm": "yes", "csrf_token": csrf}
                       ).status_code == 403
    assert client.post(f"/admin/orders/{order.id}/assign", data={"assignee": "me", "csrf_token": csrf}
                       ).status_code == 403
    assert client.post(f"/admin/orders/{other.id}/notes", data={"body": "hi", "csrf_token": csrf}).status_code == 404
    assert client.post(f"/admin/orders/{other.id}/fulfil", data={"carrier": "dhl", "tracking_number": "JD0001",
                                                                 "idempotency_key": "k" * 16, "csrf_token": csrf}
                       ).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(OrderNote)) == 0


def test_a_merchant_cannot_ship_another_stores_lines(client, db, login_as, make_order, lune, noor, htmx_headers):
    order = make_order()
    login_as("merchant", store=lune)
    fields = form_fields(page(client, order), f"fulfil-{lune.id}")
    response = client.post(f"/admin/orders/{order.id}/fulfil", headers=htmx_headers,
                           data={**fields, "store_id": str(noor.id), "carrier": "dhl", "tracking_number": "JD0001"})
    assert response.status_code == 422 and "only ship your own store" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Fulfilment)) == 0


def test_a_merchant_sees_their_own_shipping_progress(client, db, login_as, make_order, lune, noor, staff_actor):
    from covet.orders.fulfilment import fulfil_order

    order = make_order()
    fulfil_order(order.id, noor.id, staff_actor, "dhl", "JD0001", None, "noor-ships")
    login_as("merchant", store=lune)
    header = page(client, order).split('id="order-header"')[1].split("</header>")[0]
    assert ">unfulfilled<" in header and ">partial<" not in header
    assert "JD0001" not in page(client, order)  # another store's shipment


def test_actions_that_do_not_apply_are_hidden(client, db, login_as, make_order, staff_actor):
    login_as("staff")
    unpaid = page(client, make_order(payment_status="unpaid"))
    assert 'id="fulfil"' not in unpaid and 'id="refund"' not in unpaid and 'id="cancel"' in unpaid
    cancelled = page(client, make_order(payment_status="unpaid", state="cancelled"))
    assert 'id="fulfil"' not in cancelled and 'id="cancel"' not in cancelled
    pending = page(client, make_order(payment_status="pending"))
    assert 'id="cancel"' not in pending  # a payment still settling: wait, then cancel
    shipped = make_order(fulfilment_status="fulfilled")
    from covet.orders.fulfilment import fulfil_order

    fulfil_order(shipped.id, shipped.lines[0].store_id, staff_actor, "dhl", "JD0001", None, "ship-1")
    html = page(client, shipped)
    assert 'id="cancel"' not in html and 'id="refund"' in html and 'id="fulfilment-' in html


def test_disputes_link_to_their_evidence_and_transfers_are_scoped(client, db, login_as, make_order, lune, noor):
    import datetime as dt

    from covet.dbtypes import utcnow
    from covet.disputes.models import Dispute
    from covet.payments.models import Transfer

    order = make_order()
    db.session.add(Dispute(stripe_dispute_id="dp_1", charge_id="ch_1", order_id=order.id, amount=50000, currency="eur",
                           reason="product_not_received", status="needs_response",
                           evidence_due_by=utcnow() + dt.timedelta(days=5)))
    db.session.add_all([Transfer(order_id=order.id, store_id=store.id, transfer_group=order.number, amount=22500,
                                 commission_amount=2500, currency="eur", status=status)
                        for store, status in ((lune, "paid"), (noor, "waiting"))])
    db.session.commit()
    login_as("staff")
    html = page(client, order)
    dispute_id = db.session.scalar(db.select(Dispute.id).where(Dispute.stripe_dispute_id == "dp_1"))
    # The red banner at the top and the card both lead to the dispute's own page, not Stripe's dashboard.
    assert html.count(f'href="/admin/disputes/{dispute_id}"') == 2 and "Evidence due" in html
    assert html.index(f'id="dispute-banner-{dispute_id}"') < html.index('id="order-lines"')
    assert html.count('id="transfer-') == 2 and "product not received" in html
    client.post("/admin/logout", data={"csrf_token": csrf_from(html)})
    login_as("merchant", store=lune)
    mine = page(client, order)
    assert mine.count('id="transfer-') == 1 and ">waiting<" not in mine
    assert "Evidence due" in mine and "€500.00" not in mine  # the dispute, not the whole charge's amount


def test_a_stale_write_is_a_409_with_the_page_as_it_is(client, db, login_as, make_order, monkeypatch,
                                                        htmx_headers):
    from sqlalchemy.orm.exc import StaleDataError

    from covet.orders import services

    def raced(*args, **kwargs):
        raise StaleDataError("version changed")

    monkeypatch.setattr(services, "add_note", raced)
    order = make_order()
    login_as("staff")
    csrf = csrf_from(page(client, order))
    response = client.post(f"/admin/orders/{order.id}/notes", headers=htmx_headers,
                           data={"body": "my note", "csrf_token": csrf})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone changed this order" in body and "my note" in body


def test_csrf_token_is_required(client, db, login_as, make_order):
    order = make_order()
    login_as("staff")
    response = client.post(f"/admin/orders/{order.id}/notes", data={"body": "no token"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(OrderNote)) == 0


# --- ship --------------------------------------------------------------------------------------------------------

def test_ship_with_htmx_swaps_the_detail_and_emails_the_customer(client, db, login_as, make_order, lune,
                                                                 htmx_headers):
    order = make_order(quantity=2)
    login_as("merchant", store=lune)
    fields = form_fields(page(client, order), f"fulfil-{lune.id}")
    line = next(ln for ln in order.lines if ln.store_id == lune.id)
    assert fields[f"quantity-{line.id}"] == "2" and len(fields["idempotency_key"]) == 32
    data = {**fields, "carrier": "dhl", "tracking_number": "JD 0146 0000 1234", f"quantity-{line.id}": "1"}
    response = client.post(f"/admin/orders/{order.id}/fulfil", data=data, headers=htmx_headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="order-detail"')
    assert toast_of(response)["message"].startswith("Shipped 1 item")
    assert 'id="order-tabs"' in body and 'hx-swap-oob="true"' in body  # the queue's counts, out of band
    assert "JD014600001234" in body and "dhl.com" in body  # tracking link
    again = client.post(f"/admin/orders/{order.id}/fulfil", data=data, headers=htmx_headers)
    assert again.status_code == 200  # a double-click is the same shipment
    assert db.session.scalar(select(func.count()).select_from(Fulfilment)) == 1
    email = db.session.scalar(select(EmailOutbox).where(EmailOutbox.template == "shipping_notification"))
    assert email.order_id == order.id and email.recipient == order.email
    db.session.expire_all()
    assert db.session.get(OrderLine, line.id).quantity_fulfilled == 1


def test_ship_without_javascript_redirects_with_a_flash(client, db, login_as, make_order, lune):
    order = make_order(stores=[lune])
    login_as("staff")
    fields = form_fields(page(client, order), f"fulfil-{lune.id}")
    response = client.post(f"/admin/orders/{order.id}/fulfil", data={**fields, "carrier": "ups",
                                                                      "tracking_number": "1Z999AA10123456784"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/orders/{order.id}#order-fulfilments"
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-success" in after and "Shipped 1 item" in after and 'id="fulfil"' not in after


def test_ship_refusals_keep_the_input_and_say_why(client, db, login_as, make_order, lune, htmx_headers):
    order = make_order(stores=[lune])
    login_as("staff")
    fields = form_fields(page(client, order), f"fulfil-{lune.id}")
    line = order.lines[0]
    missing = client.post(f"/admin/orders/{order.id}/fulfil", headers=htmx_headers,
                          data={**fields, "carrier": "la-poste", "tracking_number": "", f"quantity-{line.id}": "1"})
    body = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Enter the tracking number." in body and "<html" not in body
    assert missing.headers["HX-Retarget"] == "#fulfil" and missing.headers["HX-Reswap"] == "outerHTML"
    assert body.lstrip().startswith('<section class="card" id="fulfil">')
    assert '<option value="la-poste" selected>' in body  # the user's choice kept
    assert f'value="{fields["idempotency_key"]}"' in body  # a retry of the same form is still one shipment
    too_many = client.post(f"/admin/orders/{order.id}/fulfil", headers=htmx_headers,
                           data={**fields, "carrier": "dhl", "tracking_number": "JD0001", f"quantity-{line.id}": "5"})
    assert too_many.status_code == 422 and f"Ship between 0 and 1 of {line.sku}." in too_many.get_data(as_text=True)
    typo = client.post(f"/admin/orders/{order.id}/fulfil",
                       data={**fields, "carrier": "dhl", "tracking_number": "JD0001", f"quantity-{line.id}": "one"})
    typo_page = typo.get_data(as_text=True)
    assert typo.status_code == 422 and "<html" in typo_page and "Enter a whole number." in typo_page
    assert db.session.scalar(select(func.count()).select_from(Fulfilment)) == 0


def test_a_stale_ship_is_refused_with_a_clear_message(client, db, login_as, make_order, lune, htmx_headers):
    order = make_order(stores=[lune])
    login_as("staff")
    fields = form_fields(page(client, order), f"fulfil-{lune.id}")
    db.session.get(Order, order.id).state = "cancelled"  # cancelled in another tab meanwhile
    db.session.commit()
    response = client.post(f"/admin/orders/{order.id}/fulfil", headers=htmx_headers,
                           data={**fields, "carrier": "dhl", "tracking_number": "JD0001"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "This order is cancelled — it cannot be shipped." in body
    assert 'id="fulfil"' in body and "<form" not in body  # the message, and no form to try again


# --- refund and cancel ----------------------------------------------------------------------------------------------

def test_refund_validation(client, db, login_as, make_order, htmx_headers):
    order = make_order()
    login_as("staff")
    html = page(client, order)
    fields = form_fields(html, "refund-form")
    assert fields["amount"] == "" and 'placeholder="500.00"' in html  # the refundable amount, never prefilled
    typo = client.post(f"/admin/orders/{order.id}/refund", headers=htmx_headers,
                       data={**fields, "amount": "12,5x", "reason": "damaged"})
    body = typo.get_data(as_text=True)
    assert typo.status_code == 422 and "is not an amount" in body and typo.headers["HX-Retarget"] == "#refund"
    assert 'value="12,5x"' in body and 'value="damaged"' in body
    over = client.post(f"/admin/orders/{order.id}/refund", headers=htmx_headers, data={**fields, "amount": "900"})
    assert over.status_code == 422 and "At most €500.00 can be refunded." in over.get_data(as_text=True)
    restock = client.post(f"/admin/orders/{order.id}/refund", headers=htmx_headers,
                          data={**fields, "amount": "100", f"restock-{order.lines[0].id}": "3"})
    assert restock.status_code == 422 and "Return between 0 and 1" in restock.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0


def test_refund_through_localstripe(app, client, db, login_as, make_order, fresh_localstripe, htmx_headers):
    import stripe

    from tests.stripe_peers import set_stripe_config

    set_stripe_config(app, fresh_localstripe)
    order = make_order()
    intent = stripe.StripeClient("sk_test_local", base_addresses={"api": fresh_localstripe}).v1.payment_intents.create(
        params={"amount": 50000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True})
    db.session.scalar(select(Payment).where(Payment.order_id == order.id)).payment_intent_id = intent.id
    db.session.commit()
    login_as("staff")
    fields = form_fields(page(client, order), "refund-form")
    line = order.lines[0]
    data = {**fields, "amount": "120.50", "reason": "scratched", f"restock-{line.id}": "1"}
    response = client.post(f"/admin/orders/{order.id}/refund", data=data, headers=htmx_headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:2000]
    assert toast_of(response)["message"] == "€120.50 refunded." and "Refund €120.50" in body
    assert client.post(f"/admin/orders/{order.id}/refund", data=data).status_code == 303  # the retry: one refund
    refunds = db.session.scalars(select(Refund)).all()
    assert [(r.amount, r.status, r.reason) for r in refunds] == [(12050, "succeeded", "scratched")]
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_status == "partially_refunded"
    assert db.session.get(OrderLine, line.id).quantity_refunded == 1
    assert "€379.50 can be refunded" in page(client, order)


def test_cancel_needs_confirmation_then_cancels(client, db, login_as, make_order, htmx_headers):
    order = make_order(payment_status="unpaid")
    login_as("staff")
    fields = form_fields(page(client, order), "cancel-form")
    unconfirmed = client.post(f"/admin/orders/{order.id}/cancel", headers=htmx_headers,
                              data={**fields, "reason": "customer asked"})
    body = unconfirmed.get_data(as_text=True)
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in body and 'value="customer asked"' in body
    assert unconfirmed.headers["HX-Retarget"] == "#cancel"
    done = client.post(f"/admin/orders/{order.id}/cancel", headers=htmx_headers,
                       data={**fields, "reason": "customer asked", "confirm": "yes"})
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and toast_of(done)["message"] == f"Order {order.number} cancelled."
    assert 'id="cancel"' not in body and "cancelled" in body and "customer asked" in body  # in the timeline
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == "cancelled"


def test_cancel_explains_the_refund_when_paid(client, db, login_as, make_order):
    order = make_order()
    login_as("staff")
    html = page(client, order)
    assert "Cancelling refunds €500.00 to the customer and, if ticked below, puts the items back in stock" in html
    assert re.search(r'name="restock" value="on" checked', html)


# --- assign, tags, notes -----------------------------------------------------------------------------------------

def test_assign_from_the_page_and_from_a_queue_row(client, db, login_as, make_order, make_user, htmx_headers):
    order = make_order()
    colleague = make_user("staff", email="ana@covet.test")
    me = login_as("staff")
    csrf = csrf_from(page(client, order))
    mine = client.post(f"/admin/orders/{order.id}/assign", data={"assignee": "me", "csrf_token": csrf},
                       headers=htmx_headers)
    assert mine.status_code == 200 and toast_of(mine)["message"] == f"{order.number} is yours."
    assert '<option value="me" selected>' in mine.get_data(as_text=True)
    theirs = client.post(f"/admin/orders/{order.id}/assign", data={"assignee": str(colleague.id), "csrf_token": csrf})
    assert theirs.status_code == 303 and theirs.headers["Location"].endswith("#assignment")
    timeline = page(client, order)
    assert f"assignee: {me.email} → ana@covet.test" in timeline
    row = client.post(f"/admin/orders/{order.id}/assign", headers=htmx_headers,
                      data={"assignee": "me", "context": "row", "next": "/admin/orders/?view=mine", "csrf_token": csrf})
    body = row.get_data(as_text=True)
    assert row.status_code == 200 and f'id="order-row-{order.id}"' in body and 'id="order-tabs"' in body
    assert 'id="order-detail"' not in body and "toast" in row.headers["HX-Trigger"]
    plain = client.post(f"/admin/orders/{order.id}/assign",
                        data={"assignee": "", "context": "row", "next": "/admin/orders/?view=mine", "csrf_token": csrf})
    assert plain.status_code == 303 and plain.headers["Location"] == "/admin/orders/?view=mine"
    outside = {"assignee": "me", "context": "row", "next": "//evil.test/admin/orders", "csrf_token": csrf}
    evil = client.post(f"/admin/orders/{order.id}/assign", data=outside)
    assert evil.headers["Location"] == "/admin/orders/"
    nobody = client.post(f"/admin/orders/{order.id}/assign", data={"assignee": "999999", "csrf_token": csrf},
                         headers=htmx_headers)
    assert nobody.status_code == 422 and "Choose an active staff member" in nobody.get_data(as_text=True)
    assert nobody.headers["HX-Retarget"] == "#assignment"


def test_a_refused_row_action_keeps_the_row_and_toasts(client, db, login_as, make_order, htmx_headers):
    order = make_order()
    login_as("staff")
    csrf = csrf_from(page(client, order))
    response = client.post(f"/admin/orders/{order.id}/tags", headers=htmx_headers,
                           data={"add": "no way!", "context": "row", "csrf_token": csrf})
    assert response.status_code == 422 and f'id="order-row-{order.id}"' in response.get_data(as_text=True)
    assert toast_of(response)["level"] == "error"


def test_tags_are_added_and_removed(client, db, login_as, make_order, htmx_headers):
    order = make_order()
    login_as("staff")
    csrf = csrf_from(page(client, order))
    added = client.post(f"/admin/orders/{order.id}/tags", data={"add": "VIP, gift wrap", "csrf_token": csrf},
                        headers=htmx_headers)
    assert added.status_code == 200 and toast_of(added)["message"] == f"Tags of {order.number}: gift-wrap, vip."
    assert '<input type="hidden" name="remove" value="vip">' in added.get_data(as_text=True)
    removed = client.post(f"/admin/orders/{order.id}/tags", data={"remove": "vip", "csrf_token": csrf})
    assert removed.status_code == 303
    bad = client.post(f"/admin/orders/{order.id}/tags", data={"add": "no way!", "csrf_token": csrf},
                      headers=htmx_headers)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Tags are 1 to 40 characters" in body and 'value="no way!"' in body
    assert '<span class="tag">gift-wrap</span>' in page(client, order)


def test_notes_by_staff_and_merchants(client, app, db, login_as, make_user, make_order, lune, htmx_headers):
    from covet.orders.services import add_note
    from tests.conftest import login

    order = make_order()
    staff = make_user("staff")
    add_note(order.id, "Noor's line was oversold; refund it.", Actor.for_user(staff))
    login_as("merchant", store=lune)
    html = page(client, order)
    assert "oversold" not in html  # staff notes stay internal
    csrf = csrf_from(html)
    empty = client.post(f"/admin/orders/{order.id}/notes", data={"body": "  ", "csrf_token": csrf},
                        headers=htmx_headers)
    assert empty.status_code == 422 and "Write a note of 1 to" in empty.get_data(as_text=True)
    assert empty.headers["HX-Retarget"] == "#notes"
    added = client.post(f"/admin/orders/{order.id}/notes", data={"body": "Gift box ready", "csrf_token": csrf},
                        headers=htmx_headers)
    assert added.status_code == 200 and "Gift box ready" in added.get_data(as_text=True)
    staff_client = app.test_client()
    login(staff_client, staff.email)
    both = staff_client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Gift box ready" in both and "oversold" in both


# --- bounded statements ----------------------------------------------------------------------------------------------

def _order_with_lines(db, stores, count: int) -> Order:
    """An order with `count` lines over both stores, each of its own product with a ready image."""
    order = Order(number=f"CV-N{count}", email="big@example.test", customer_name="Big Spender", currency="eur",
                  payment_status="paid", total_amount=1000 * count, subtotal_amount=1000 * count)
    for n in range(count):
        store = stores[n % 2]
        product = Product(store_id=store.id, title=f"Piece {count}-{n}", slug=f"piece-{count}-{n}", status="active")
        db.session.add(product)
        db.session.flush()
        variant = Variant(product_id=product.id, store_id=store.id, sku=f"P{count}-{n}", price_amount=1000,
                          currency="eur", stock_on_hand=3)
        db.session.add(variant)
        db.session.add(Media(store_id=store.id, product_id=product.id, s3_key=f"products/{count}/{n}/original",
                             status="ready", renditions={"320": f"products/{count}/{n}/320.webp"}))
        db.session.flush()
        order.lines.append(OrderLine(store_id=store.id, variant_id=variant.id, product_title=product.title,
                                     sku=variant.sku, unit_price_amount=1000, quantity=1))
    db.session.add(order)
    db.session.flush()
    db.session.add(Payment(order_id=order.id, amount=order.total_amount, currency="eur", status="succeeded",
                           payment_intent_id=f"pi_n{count}"))
    db.session.commit()
    return order


def _statements(app, client, db, order_id: int) -> tuple[int, str]:
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    engine = app.extensions["sqlalchemy"].engine
    db.session.remove()  # the test and its requests share one session: start each request from an empty one
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(f"/admin/orders/{order_id}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    return len(seen), html


@pytest.mark.parametrize("role", ["staff", "merchant"])
def test_the_page_runs_the_same_statements_for_2_or_20_lines(app, client, db, login_as, stores, staff_actor, role):
    from covet.orders.services import add_note

    small, big = _order_with_lines(db, stores, 2), _order_with_lines(db, stores, 20)
    for order in (small, big):
        add_note(order.id, "checked", staff_actor)
    login_as(role, store=stores[0] if role == "merchant" else None)
    page(client, small)  # warm-up: the first request of a session loads things once
    small, big = small.id, big.id
    few, small_html = _statements(app, client, db, small)
    many, big_html = _statements(app, client, db, big)
    assert few == many, (few, many)
    assert few <= 20, few  # one statement per source, plus the session's user
    assert big_html.count('<img src="') == (20 if role == "staff" else 10)
    assert "/320.webp" in small_html
