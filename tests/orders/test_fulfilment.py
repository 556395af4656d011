"""Shipping: one store's lines at a time, partial then full, once per form, the customer told once."""

import pytest
from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders import fulfilment as fulfilment_module
from covet.orders.fulfilment import fulfil_order, fulfil_remaining
from covet.orders.models import Fulfilment, Order, OrderLine
from tests.conftest import requires_postgres
from tests.orders.concurrency import at_once


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def line_of(order: Order, store) -> OrderLine:
    return next(line for line in db.session.get(Order, order.id).lines if line.store_id == store.id)


def emails() -> list[EmailOutbox]:
    return list(db.session.scalars(select(EmailOutbox).order_by(EmailOutbox.id)))


def test_partial_then_the_rest_counts_every_store(make_order, stores, staff_actor):
    lune, noor = stores
    order = make_order(quantity=2)
    lune_line = line_of(order, lune)
    first = fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD01 4600 0062 81", {lune_line.id: 1}, "form-1")
    assert (first.carrier, first.tracking_number) == ("dhl", "JD014600006281")
    assert first.tracking_url.endswith("tracking-id=JD014600006281")
    assert [(fl.order_line_id, fl.quantity) for fl in first.lines] == [(lune_line.id, 1)]
    db.session.expire_all()
    assert line_of(order, lune).quantity_fulfilled == 1
    assert db.session.get(Order, order.id).fulfilment_status == "partial"

    fulfil_order(order.id, lune.id, staff_actor, "ups", "1Z999AA10123456784", None, "form-2")  # the rest of Lune
    db.session.expire_all()
    assert db.session.get(Order, order.id).fulfilment_status == "partial"  # Noor has not shipped yet
    fulfil_order(order.id, noor.id, staff_actor, "other", "", None, "form-3")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.fulfilment_status == "fulfilled" and all(ln.quantity_fulfilled == 2 for ln in order.lines)
    entries = list(db.session.scalars(select(AuditLog).where(AuditLog.action == "order.fulfilled")
                                      .order_by(AuditLog.id)))
    assert [e.store_id for e in entries] == [lune.id, lune.id, noor.id]
    assert entries[0].after["lines"] == {str(lune_line.id): 1} and entries[2].after["fulfilment_status"] == "fulfilled"


def test_the_customer_gets_one_email_per_shipment_with_that_shipments_lines(make_order, stores, staff_actor):
    lune, _ = stores
    order = make_order(quantity=2)
    lune_line = line_of(order, lune)
    shipped = fulfil_order(order.id, lune.id, staff_actor, "la-poste", "6A12345678901", {lune_line.id: 1}, "f-1")
    [email] = emails()
    assert (email.template, email.recipient, email.idempotency_key, email.order_id) == (
        "shipping_notification", order.email, f"shipping:{shipped.id}", order.id)
    assert email.context == {
        "order_number": order.number, "customer_name": order.customer_name, "carrier": "La Poste (Colissimo)",
        "tracking_number": "6A12345678901",
        "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "lines": [{"title": "Lune Bag", "variant": "", "sku": "LUNE-BAG-1", "quantity": 1,
                   "unit_price": 25000}]}


def test_a_repeated_form_is_one_shipment_and_one_email(make_order, stores, staff_actor):
    lune, _ = stores
    order = make_order(quantity=2)
    first = fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD014600006281", None, "double-click")
    again = fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD014600006281", None, "double-click")
    assert again.id == first.id and count(Fulfilment) == 1 and len(emails()) == 1
    assert line_of(order, lune).quantity_fulfilled == 2


def test_a_duplicate_key_that_races_past_the_lookup_returns_the_first(make_order, stores, staff_actor, monkeypatch):
    lune, _ = stores
    order = make_order(quantity=2)
    line = line_of(order, lune)
    first = fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD014600006281", {line.id: 1}, "raced")
    real, calls = fulfilment_module._by_key, []

    def lookup_misses_once(key):  # what a request that looked before the other committed sees
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    monkeypatch.setattr(fulfilment_module, "_by_key", lookup_misses_once)
    again = fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD014600006281", {line.id: 1}, "raced")
    assert again.id == first.id and len(calls) == 2  # the unique key refused the second insert
    db.session.expire_all()
    assert count(Fulfilment) == 1 and line_of(order, lune).quantity_fulfilled == 1 and len(emails()) == 1


def test_one_form_key_cannot_ship_another_order(make_order, stores, staff_actor):
    lune, _ = stores
    fulfil_order(make_order().id, lune.id, staff_actor, "dhl", "JD014600006281", None, "shared")
    with pytest.raises(ValidationError) as refused:
        fulfil_order(make_order().id, lune.id, staff_actor, "dhl", "JD014600006281", None, "shared")
    assert "already used for another shipment" in refused.value.errors["order"]


@pytest.mark.parametrize(("order_kwargs", "message"), [
    ({"payment_status": "unpaid"}, "This order is not paid yet — it cannot be shipped."),
    ({"payment_status": "pending"}, "This order is not paid yet — it cannot be shipped."),
    ({"payment_status": "refunded"}, "This order has been refunded — it cannot be shipped."),
    ({"state": "cancelled"}, "This order is cancelled — it cannot be shipped."),
    ({"state": "closed"}, "This order is closed — it cannot be shipped."),
])
def test_unpaid_cancelled_or_closed_orders_are_not_shipped(make_order, stores, staff_actor, order_kwargs, message):
    order = make_order(**order_kwargs)
    with pytest.raises(ValidationError) as refused:
        fulfil_order(order.id, stores[0].id, staff_actor, "dhl", "JD014600006281", None, "k")
    assert refused.value.errors == {"order": message}
    assert count(Fulfilment) == 0 and emails() == [] and line_of(order, stores[0]).quantity_fulfilled == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "order.fulfilled")) == 0


def test_field_messages_and_nothing_written(make_order, stores, staff_actor):
    lune, noor = stores
    order = make_order(quantity=2)
    lune_line, noor_line = line_of(order, lune), line_of(order, noor)

    def refused(**kw):
        args = {"carrier": "dhl", "tracking_number": "JD014600006281", "quantities": None, **kw}
        with pytest.raises(ValidationError) as caught:
            fulfil_order(order.id, lune.id, staff_actor, args["carrier"], args["tracking_number"],
                         args["quantities"], "k")
        return caught.value.errors

    assert refused(carrier="pigeon") == {"carrier": "Choose a carrier from the list."}
    assert refused(tracking_number="") == {"tracking_number": "Enter the tracking number."}
    assert refused(tracking_number="AB/12", carrier="other") == {
        "tracking_number": "A tracking number is 4 to 40 letters, digits or dashes."}
    assert refused(quantities={lune_line.id: 3}) == {f"quantity-{lune_line.id}": "Ship between 0 and 2 of LUNE-BAG-1."}
    assert refused(quantities={lune_line.id: -1}) == {f"quantity-{lune_line.id}": "Ship between 0 and 2 of LUNE-BAG-1."}
    assert refused(quantities={lune_line.id: 0}) == {"quantities": "Choose at least one item to ship."}
    assert refused(quantities={noor_line.id: 1}) == {
        "quantities": f"Line {noor_line.id} is not one of this store's lines in the order."}
    assert count(Fulfilment) == 0 and emails() == []


def test_a_store_with_nothing_in_the_order(make_order, make_store, stores, staff_actor):
    order = make_order(stores=[stores[0]])
    with pytest.raises(ValidationError) as refused:
        fulfil_order(order.id, stores[1].id, staff_actor, "dhl", "JD014600006281", None, "k")
    assert refused.value.errors == {"store": "This order has nothing from that store."}


def test_merchants_ship_only_their_own_lines(make_order, stores, merchant_of):
    lune, noor = stores
    order = make_order()
    merchant = merchant_of(lune)
    with pytest.raises(ValidationError) as refused:
        fulfil_order(order.id, noor.id, merchant, "dhl", "JD014600006281", None, "k-noor")
    assert refused.value.errors == {"store": "You can only ship your own store's items."}
    shipped = fulfil_order(order.id, lune.id, merchant, "dhl", "JD014600006281", None, "k-lune")
    assert shipped.store_id == lune.id and shipped.created_by_id == merchant.user_id
    with pytest.raises(NotFoundError):  # another store's merchant does not learn the order exists
        fulfil_order(make_order(stores=[noor]).id, noor.id, merchant, "dhl", "JD014600006281", None, "k-x")


def test_fulfil_remaining_ships_each_store_once(make_order, stores, staff_actor):
    lune, noor = stores
    order = make_order(quantity=3)
    fulfil_order(order.id, lune.id, staff_actor, "dhl", "JD014600006281", {line_of(order, lune).id: 1}, "part")
    done = fulfil_remaining(order.id, staff_actor, idempotency_key="mark")
    assert [(f.store_id, f.idempotency_key, f.carrier) for f in done] == [
        (lune.id, f"mark:{lune.id}", "other"), (noor.id, f"mark:{noor.id}", "other")]
    assert [sum(fl.quantity for fl in f.lines) for f in done] == [2, 3]
    assert [f.id for f in fulfil_remaining(order.id, staff_actor, idempotency_key="mark")] == [f.id for f in done]
    assert count(Fulfilment) == 3 and len(emails()) == 3
    assert db.session.get(Order, order.id).fulfilment_status == "fulfilled"
    assert emails()[-1].context["carrier"] == "our delivery partner" and emails()[-1].context["tracking_url"] is None
    with pytest.raises(ValidationError) as refused:
        fulfil_remaining(order.id, staff_actor, idempotency_key="mark-again")
    assert refused.value.errors == {"order": "Everything on this order has already been shipped."}


def test_fulfil_remaining_for_a_merchant_and_for_an_unpaid_order(make_order, stores, merchant_of, staff_actor):
    lune, noor = stores
    order = make_order()
    [only] = fulfil_remaining(order.id, merchant_of(lune), idempotency_key="m")
    assert only.store_id == lune.id and line_of(order, noor).quantity_fulfilled == 0
    with pytest.raises(ValidationError) as refused:
        fulfil_remaining(make_order(payment_status="unpaid").id, staff_actor, idempotency_key="u")
    assert refused.value.errors == {"order": "This order is not paid yet — it cannot be shipped."}


@requires_postgres
def test_two_requests_with_one_key_at_once_make_one_shipment(app, make_order, stores, staff_actor):
    lune, _ = stores
    order = make_order(quantity=2)
    order_id, store_id = order.id, lune.id  # ORM objects belong to this thread's session: ids only in threads
    got = at_once(app, [lambda: fulfil_order(order_id, store_id, staff_actor, "dhl", "JD014600006281", None,
                                             "same").id] * 2)
    assert all(isinstance(g, int) for g in got) and got[0] == got[1], got
    db.session.expire_all()
    assert count(Fulfilment) == 1 and len(emails()) == 1 and line_of(order, lune).quantity_fulfilled == 2
