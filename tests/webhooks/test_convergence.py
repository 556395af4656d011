"""Property: whatever order Stripe's events arrive in — permuted, replayed, stale — each order ends in the
state that in-order processing gives. Each example builds twin orders with the same lifecycle; one twin's
events are processed in order, the other's shuffled with replays; the twins' normalised states must match.

Stripe itself is the Stripe fake (tests/stripe_peers.py): it answers what handlers ask when an event is not
enough (a PaymentIntent's metadata for a refund that came first, a dispute's current state for a stale one).
Lifecycles Stripe never produces (a session that expires after it was paid) are not generated."""
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from covet.catalog.models import InventoryAdjustment, Product, Variant
from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order, OrderLine
from covet.payments.models import Payment, Refund, Transfer
from covet.webhooks import services
from covet.webhooks.models import StripeEvent
from tests.webhooks.support import charge_refunded, event, intent_event, session_completed

LIFECYCLES = ("paid", "paid_after_failed_attempt", "async_paid", "refunded_half", "refunded_in_two",
              "expired", "failed_then_expired", "disputed", "disputed_lost", "disputed_won", "refunded_and_disputed")
_twins = itertools.count(1)


def _order(db, store, tag: str) -> Order:
    product = Product(store_id=store.id, title="Silk Scarf", slug=f"scarf-{tag}", status="active")
    db.session.add(product)
    db.session.flush()
    variant = Variant(product_id=product.id, store_id=store.id, sku=f"SCARF-{tag}", price_amount=5000,
                      currency="eur", stock_on_hand=10)
    db.session.add(variant)
    db.session.flush()
    order = Order(number=tag, email=f"{tag}@example.com", currency="eur", total_amount=10_000,
                  subtotal_amount=10_000, payment_status="unpaid",
                  lines=[OrderLine(store_id=store.id, variant_id=variant.id, product_title="Silk Scarf",
                                   variant_title="Default", sku=variant.sku, unit_price_amount=5000, quantity=2)])
    db.session.add(order)
    db.session.commit()
    return order


def _dispute(order, status: str, created: int) -> dict:
    due = created + 7 * 86400
    return event(f"charge.dispute.{'closed' if status in ('won', 'lost') else 'created'}", {
        "id": f"dp_{order.number}", "object": "dispute", "amount": order.total_amount, "currency": "eur",
        "charge": f"ch_{order.number}", "payment_intent": f"pi_x_{order.number}", "reason": "fraudulent",
        "status": status, "created": 5000, "evidence_details": {"due_by": due, "has_evidence": False,
                                                               "past_due": False, "submission_count": 0},
        "balance_transactions": []}, created)


def _lifecycle_events(order, lifecycle: str) -> list[dict]:
    """The events Stripe sends for `lifecycle`, in the order Stripe creates them."""
    paid = [session_completed(order, created=1001), intent_event(order, created=1002)]
    if lifecycle == "paid":
        return paid
    if lifecycle == "paid_after_failed_attempt":
        return [intent_event(order, "payment_intent.payment_failed", created=1000, intent="pi_old"), *paid]
    if lifecycle == "async_paid":
        return [session_completed(order, paid=False, created=1001), intent_event(order, created=1002)]
    if lifecycle == "refunded_half":
        return [*paid, charge_refunded(order, 5000, created=1003)]
    if lifecycle == "refunded_in_two":
        second = charge_refunded(order, 10_000, created=1004)
        second["data"]["object"]["refunds"]["data"].insert(0, {"id": f"re_{order.number}_5000", "amount": 5000,
                                                              "status": "succeeded", "currency": "eur"})
        return [*paid, charge_refunded(order, 5000, created=1003), second]
    if lifecycle == "expired":
        return [_expired(order, 1001)]
    if lifecycle == "failed_then_expired":
        return [intent_event(order, "payment_intent.payment_failed", created=1000), _expired(order, 1001)]
    if lifecycle == "refunded_and_disputed":
        return [*paid, charge_refunded(order, 5000, created=1003), _dispute(order, "needs_response", 1004)]
    disputed = [*paid, _dispute(order, "needs_response", 1003)]
    outcome = lifecycle.removeprefix("disputed").strip("_")
    return disputed + ([_dispute(order, outcome, 1004)] if outcome else [])


def _expired(order, created: int) -> dict:
    return event("checkout.session.expired", {"id": f"cs_{order.number}", "object": "checkout.session",
                                              "status": "expired", "payment_status": "unpaid",
                                              "metadata": {"order_id": str(order.id)}}, created)


def _teach_stripe(stripe_fake, order, events: list[dict]) -> None:
    """What Stripe would answer when asked: the order's PaymentIntent, each dispute's latest state."""
    stripe_fake.objects[f"pi_x_{order.number}"] = {
        "id": f"pi_x_{order.number}", "object": "payment_intent", "amount": order.total_amount, "currency": "eur",
        "status": "succeeded", "latest_charge": f"ch_{order.number}", "metadata": {"order_id": str(order.id)}}
    for body in events:
        if body["type"].startswith("charge.dispute."):
            stripe_fake.objects[body["data"]["object"]["id"]] = body["data"]["object"]  # the last one wins


def _store_rows(db, events: list[dict]) -> dict[str, int]:
    rows = {}
    for body in events:
        row = StripeEvent(event_id=body["id"], type=body["type"], payload=body, status="pending", attempts=0,
                          received_at=utcnow())
        db.session.add(row)
        db.session.flush()
        rows[body["id"]] = row.id
    db.session.commit()
    return rows


def _process(db, row_ids: list[int]) -> None:
    """Process in this order; what fails (an order not known yet) is retried afterwards, as RQ would."""
    for row_id in row_ids:
        _attempt(db, row_id)
    for _ in range(4):
        waiting = db.session.scalars(select(StripeEvent.id).where(
            StripeEvent.id.in_(set(row_ids)), StripeEvent.status.in_(("pending", "failed")))).all()
        if not waiting:
            return
        for row_id in sorted(waiting):
            _attempt(db, row_id)


def _attempt(db, row_id: int) -> None:
    try:
        services.process(row_id)
    except Exception:  # noqa: BLE001 - recorded on the row as failed; retried by _process
        db.session.rollback()


def _state(db, order: Order) -> dict:
    """The order's end state, with the twin's own name taken out."""
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    tag = order.number

    def plain(value):
        return value.replace(tag, "#") if isinstance(value, str) else value

    payments = db.session.scalars(select(Payment).where(Payment.order_id == order.id)).all()
    disputes = db.session.scalars(select(Dispute).where(Dispute.charge_id == f"ch_{tag}")).all()
    return {
        "order": (order.payment_status, order.state, order.refunded_amount, order.paid_at is not None,
                  sorted(t.tag for t in order.tags)),
        "payments": sorted((p.status, plain(p.payment_intent_id), plain(p.charge_id), p.amount) for p in payments),
        "refunds": sorted((plain(r.stripe_refund_id), r.status, r.amount) for r in db.session.scalars(
            select(Refund).where(Refund.order_id == order.id))),
        "stock": [v.stock_on_hand for v in db.session.scalars(select(Variant).where(Variant.sku == f"SCARF-{tag}"))],
        "ledger": sorted((a.reason, a.delta) for a in db.session.scalars(
            select(InventoryAdjustment).where(InventoryAdjustment.order_id == order.id))),
        "transfers": sorted((t.amount, t.commission_amount, t.status) for t in db.session.scalars(
            select(Transfer).where(Transfer.order_id == order.id))),
        "disputes": sorted((d.status, d.outcome, d.order_id == order.id, d.amount) for d in disputes),
        "emails": sorted(plain(k) for k in db.session.scalars(select(EmailOutbox.idempotency_key).where(
            EmailOutbox.idempotency_key.contains(tag)))),
    }


@st.composite
def deliveries(draw, size: int) -> list[int]:
    """Positions into a lifecycle's events: a permutation, with up to three replays of any of them."""
    order = draw(st.permutations(range(size)))
    replays = draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, size)), max_size=3))
    order = list(order)
    for event_index, at in replays:
        order.insert(min(at, len(order)), event_index)
    return order


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lifecycle=st.sampled_from(LIFECYCLES), data=st.data())
def test_any_delivery_order_converges_on_the_in_order_state(app, db, make_store, make_user, stripe_fake,
                                                            redis_conn, lifecycle, data):
    stripe_fake.set_stripe_config(app)
    store = _store(db, make_store, make_user)
    n = next(_twins)
    in_order, shuffled = _order(db, store, f"IN{n}X"), _order(db, store, f"SH{n}X")
    expected_events = _lifecycle_events(in_order, lifecycle)
    events = _lifecycle_events(shuffled, lifecycle)
    _teach_stripe(stripe_fake, in_order, expected_events)
    _teach_stripe(stripe_fake, shuffled, events)
    expected_rows = _store_rows(db, expected_events)
    _process(db, [expected_rows[body["id"]] for body in expected_events])

    rows = _store_rows(db, events)
    positions = data.draw(deliveries(len(events)), label="delivery order")
    _process(db, [rows[events[i]["id"]] for i in positions])

    assert _state(db, shuffled) == _state(db, in_order)


_stores: dict = {}


def _store(db, make_store, make_user):
    """One store (with a merchant and a staff member to email) for every example of the run."""
    from covet.stores.models import Store

    if "id" in _stores and db.session.get(Store, _stores["id"]) is not None:
        return db.session.get(Store, _stores["id"])
    store = make_store("lune", support_email="support@lune.example")
    make_user("merchant", email="merchant@lune.example", store=store)
    make_user("staff", email="staff@covet.example")
    _stores["id"] = store.id
    return store
