"""Take next: the oldest order waiting for staff, one statement, never the same order to two people."""

import pytest
from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.audit.services import Actor
from covet.errors import NotFoundError
from covet.extensions import db
from covet.orders.models import Order
from covet.orders.services import take_next
from tests.conftest import requires_postgres
from tests.orders.concurrency import at_once
from tests.orders.conftest import hours_ago


def test_takes_the_oldest_eligible_order_and_skips_the_rest(make_order, make_user, staff_actor):
    other = make_user("staff")
    make_order(created_at=hours_ago(9), assignee=other)                       # someone is on it
    make_order(created_at=hours_ago(8), payment_status="unpaid")
    make_order(created_at=hours_ago(7), state="cancelled")
    make_order(created_at=hours_ago(6), fulfilment_status="fulfilled")
    make_order(created_at=hours_ago(5), state="closed")
    older = make_order(created_at=hours_ago(4), fulfilment_status="partial")
    newer = make_order(created_at=hours_ago(2), payment_status="partially_refunded")
    version = older.version

    taken = take_next(staff_actor)
    assert taken.id == older.id and taken.assignee_id == staff_actor.user_id
    assert taken.version == version + 1  # the optimistic-lock version moves: open copies become stale
    assert take_next(staff_actor).id == newer.id
    assert take_next(staff_actor) is None
    entries = db.session.execute(select(AuditLog.entity_id, AuditLog.after).where(AuditLog.action == "order.assigned")
                                 .order_by(AuditLog.id)).all()
    assert entries == [(str(older.id), {"assignee_id": staff_actor.user_id, "via": "take_next"}),
                       (str(newer.id), {"assignee_id": staff_actor.user_id, "via": "take_next"})]


def test_empty_queue_gives_none(db, staff_actor):
    assert take_next(staff_actor) is None


def test_merchants_cannot_take_orders(stores, make_order, merchant_of):
    make_order()
    with pytest.raises(NotFoundError):
        take_next(merchant_of(stores[0]))
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.assignee_id.is_not(None))) == 0


@requires_postgres
def test_twenty_staff_at_once_get_twenty_different_orders(app, make_order, make_user):
    orders = [make_order(created_at=hours_ago(40 - i)) for i in range(30)]
    actors = [Actor.for_user(make_user("staff")) for _ in range(20)]
    outcomes = at_once(app, [lambda actor=actor: take_next(actor) for actor in actors])
    errors = [o for o in outcomes if isinstance(o, Exception)]
    got = {actor.user_id: (order.id if order else None) for actor, order in zip(actors, outcomes, strict=True)}
    assert errors == [] and len(got) == 20
    assert None not in got.values() and len(set(got.values())) == 20
    db.session.expire_all()
    assigned = dict(db.session.execute(select(Order.id, Order.assignee_id).where(Order.assignee_id.is_not(None))).all())
    assert assigned == {order_id: user_id for user_id, order_id in got.items()}  # each to exactly who got it
    # First come, first served: the 20 oldest went, the 10 newest still wait.
    assert set(assigned) == {order.id for order in orders[:20]}
