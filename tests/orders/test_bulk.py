"""Bulk actions: each order through its own service and transaction, refusals collected, at most 5,000."""

import pytest
from sqlalchemy import func, select

from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders.bulk import BulkResult, bulk_assign, bulk_fulfil, bulk_tag
from covet.orders.models import Fulfilment, Order
from covet.orders.services import set_tags
from tests.conftest import requires_postgres
from tests.orders.concurrency import at_once


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_bulk_assign_and_unassign(make_order, make_user, staff_actor):
    orders = [make_order() for _ in range(3)]
    colleague = make_user("staff")
    result = bulk_assign([o.id for o in orders], colleague.id, staff_actor)
    assert result == BulkResult(done=[o.id for o in orders], failed={})
    db.session.expire_all()
    assert {db.session.get(Order, o.id).assignee_id for o in orders} == {colleague.id}
    assert bulk_assign([o.id for o in orders], None, staff_actor).done == [o.id for o in orders]
    assert count(Order) == 3 and db.session.scalar(select(func.count()).where(Order.assignee_id.is_not(None))) == 0


def test_bulk_assign_checks_the_assignee_once_and_reports_missing_orders(make_order, make_user, stores, staff_actor):
    order = make_order()
    with pytest.raises(ValidationError) as refused:
        bulk_assign([order.id], make_user("merchant", store=stores[0]).id, staff_actor)
    assert refused.value.errors == {"assignee": "Choose an active staff member or admin."}
    result = bulk_assign([order.id, 999_999], staff_actor.user_id, staff_actor)
    assert result.done == [order.id] and result.failed == {999_999: "Order 999999: not found."}


def test_bulk_tag_collects_refusals_per_order(make_order, staff_actor):
    full, fresh = make_order(number="CV-FULL"), make_order()
    set_tags(full.id, staff_actor, add=[f"t{i}" for i in range(20)])
    result = bulk_tag([full.id, fresh.id], " Gift Wrap ", staff_actor)
    assert result.done == [fresh.id]
    assert result.failed == {full.id: "CV-FULL: An order can carry at most 20 tags."}
    assert [t.tag for t in db.session.get(Order, fresh.id).tags] == ["gift-wrap"]
    with pytest.raises(ValidationError):
        bulk_tag([fresh.id], "#nope", staff_actor)


def test_bulk_fulfil_ships_what_it_may_and_says_why_not_for_the_rest(make_order, staff_actor):
    paid = make_order()
    unpaid = make_order(payment_status="unpaid", number="CV-UNPAID")
    cancelled = make_order(state="cancelled", number="CV-GONE")
    result = bulk_fulfil([paid.id, unpaid.id, cancelled.id], staff_actor, "bulk-1")
    assert result.done == [paid.id]
    assert result.failed == {unpaid.id: "CV-UNPAID: This order is not paid yet — it cannot be shipped.",
                             cancelled.id: "CV-GONE: This order is cancelled — it cannot be shipped."}
    assert db.session.get(Order, paid.id).fulfilment_status == "fulfilled"
    assert count(Fulfilment) == 2 and count(EmailOutbox) == 2  # one per store of the paid order
    again = bulk_fulfil([paid.id, unpaid.id, cancelled.id], staff_actor, "bulk-1")  # the form sent twice
    assert again.done == [paid.id] and count(Fulfilment) == 2 and count(EmailOutbox) == 2


def test_bulk_fulfil_by_a_merchant_ships_only_their_store(make_order, stores, merchant_of):
    lune, noor = stores
    both, noor_only = make_order(), make_order(stores=[noor])
    result = bulk_fulfil([both.id, noor_only.id], merchant_of(lune), "m")
    assert result.done == [both.id] and result.failed == {noor_only.id: f"Order {noor_only.id}: not found."}
    assert [f.store_id for f in db.session.scalars(select(Fulfilment))] == [lune.id]
    assert db.session.get(Order, both.id).fulfilment_status == "partial"


def test_staff_only_bulk_actions_and_the_cap(make_order, stores, merchant_of, staff_actor):
    order = make_order()
    with pytest.raises(NotFoundError):
        bulk_assign([order.id], None, merchant_of(stores[0]))
    with pytest.raises(NotFoundError):
        bulk_tag([order.id], "x", merchant_of(stores[0]))
    with pytest.raises(ValidationError) as refused:
        bulk_fulfil(range(1, 5002), staff_actor, "k")
    assert refused.value.errors == {"orders": "Choose at most 5,000 orders at a time."}
    assert bulk_tag([order.id] * 6000, "dup", staff_actor).done == [order.id]  # repeats count once
    assert count(Fulfilment) == 0


@requires_postgres
def test_one_bulk_form_sent_twice_at_once_ships_each_order_once(app, make_order, staff_actor):
    ids = [make_order().id for _ in range(3)]
    results = at_once(app, [lambda: bulk_fulfil(ids, staff_actor, "same-form")] * 2)
    assert [r.done for r in results] == [ids, ids] and [r.failed for r in results] == [{}, {}], results
    db.session.expire_all()
    assert count(Fulfilment) == 6 and count(EmailOutbox) == 6  # two stores per order, once each
    assert {db.session.get(Order, i).fulfilment_status for i in ids} == {"fulfilled"}
