"""Order payment state from Stripe: paid exactly once, stock sold without overselling, transfers, refunds.

Every function here is idempotent and monotonic (paid is never undone, refunded amounts only grow),
so Stripe's duplicated and out-of-order events converge on the same state."""
from __future__ import annotations

from sqlalchemy import select, update

from covet.audit.services import Actor
from covet.catalog.models import InventoryAdjustment, Variant
from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs import enqueue
from covet.notifications.services import queue_email
from covet.orders.models import Order, OrderTag
from covet.payments.models import PAYMENT_RANK, Payment, Refund, Transfer
from covet.web.params import parse_id

UNPAID = ("unpaid", "pending", "failed")
SYSTEM = Actor.system("stripe")


def _locked(order_id: int) -> Order | None:
    # Events of one order are handled one at a time (row lock): two workers must not both create its payment.
    return db.session.scalar(select(Order).where(Order.id == order_id).with_for_update())


def order_for(obj: dict) -> Order | None:
    """The order a Stripe object belongs to (locked for this transaction): metadata.order_id, else a payment."""
    order_id = (obj.get("metadata") or {}).get("order_id")
    if parse_id(order_id) is not None:
        return _locked(parse_id(order_id))
    for column, value in ((Payment.checkout_session_id, obj.get("id") if obj.get("object") == "checkout.session"
                           else None), (Payment.payment_intent_id, obj.get("payment_intent") or
                                        (obj.get("id") if obj.get("object") == "payment_intent" else None)),
                          (Payment.charge_id, obj.get("charge"))):
        if value:
            order_id = db.session.scalar(select(Payment.order_id).where(column == value))
            if order_id:
                return _locked(order_id)
    return None


def payment_for(order: Order, session_id: str | None = None, intent_id: str | None = None,
                succeeded: bool = False) -> Payment:
    """The order's payment row, created on first sight (checkout normally creates it).

    The intent that succeeded is the one to remember: an earlier failed attempt's id gives way to it."""
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id))
    if payment is None:
        payment = Payment(order_id=order.id, amount=order.total_amount, currency=order.currency)
        db.session.add(payment)
    payment.checkout_session_id = payment.checkout_session_id or session_id
    if intent_id and (not payment.payment_intent_id or (succeeded and payment.status != "succeeded")):
        payment.payment_intent_id = intent_id
    return payment


def advance(payment: Payment, status: str) -> bool:
    """Move the payment's status forward (PAYMENT_RANK); True when it is now `status`. An event that would
    move it back (or sideways) changes nothing."""
    current = payment.status or "pending"
    if PAYMENT_RANK[status] <= PAYMENT_RANK[current]:
        return current == status
    payment.status = status
    return True


def note_charge(order: Order, payment: Payment, charge_id: str | None, latest: bool = False) -> None:
    """Remember the payment's charge (`latest`: this one replaces an earlier attempt's); disputes that
    arrived before it are linked to the order now."""
    from covet.disputes.services import link_waiting_disputes

    payment.charge_id = (charge_id or payment.charge_id) if latest else (payment.charge_id or charge_id)
    if payment.charge_id:
        db.session.flush()
        link_waiting_disputes(order.id, payment.charge_id)


def mark_order_paid(order: Order) -> bool:
    """The one transition to paid: a conditional UPDATE picks a single winner, which sells the stock,
    books the transfers and queues the confirmation email. False when the order was already paid."""
    won = db.session.execute(
        update(Order).where(Order.id == order.id, Order.payment_status.in_(UNPAID), Order.state == "open")
        .values(payment_status="paid", paid_at=utcnow(), version=Order.version + 1)
        .execution_options(synchronize_session=False)).rowcount
    if not won:
        return False
    db.session.refresh(order)
    apply_refunded_status(order)  # a charge.refunded handled before the payment landed
    sell_stock(order)
    book_transfers(order)
    db.session.flush()
    _reverse_refunds(db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all())  # came first
    queue_email("order_confirmation", order.email, confirmation_context(order), f"order-confirmation:{order.number}",
                order_id=order.id)
    return True


def sell_stock(order: Order) -> None:
    """Take each line from stock if there is enough; otherwise flag the line and tag the order for staff.

    Policy for an oversold line: the order stays paid, the line carries `stock_problem`, the order gets
    the `stock-problem` tag; staff refund it or source it. Stock never goes below zero."""
    problem = False
    for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):  # one lock order: no deadlocks
        if line.variant_id is None:
            line.stock_problem, problem = "the variant no longer exists", True
            continue
        left = db.session.scalar(
            update(Variant).where(Variant.id == line.variant_id, Variant.stock_on_hand >= line.quantity)
            .values(stock_on_hand=Variant.stock_on_hand - line.quantity, version=Variant.version + 1)
            .returning(Variant.stock_on_hand).execution_options(synchronize_session=False))
        if left is None:
            have = db.session.scalar(select(Variant.stock_on_hand).where(Variant.id == line.variant_id))
            line.stock_problem, problem = f"oversold: {line.quantity} ordered, {have} in stock", True
            continue
        db.session.add(InventoryAdjustment(variant_id=line.variant_id, delta=-line.quantity, stock_after=left,
                                           reason="sold", order_id=order.id, note=f"order {order.number}"))
    if problem and not any(t.tag == "stock-problem" for t in order.tags):
        order.tags.append(OrderTag(tag="stock-problem"))


def book_transfers(order: Order) -> None:
    """One transfer per store (its lines, less commission); sent to Stripe by a job after commit."""
    from covet.payments.transfers import send_transfers
    from covet.stores.models import Store

    totals: dict[int, int] = {}
    for line in order.lines:
        totals[line.store_id] = totals.get(line.store_id, 0) + line.unit_price_amount * line.quantity
    for store_id, gross in totals.items():
        bps = db.session.scalar(select(Store.commission_bps).where(Store.id == store_id))
        commission = gross * bps // 10_000
        db.session.add(Transfer(order_id=order.id, store_id=store_id, transfer_group=order.number,
                                amount=gross - commission, commission_amount=commission, currency=order.currency))
    enqueue(send_transfers, order.id)


def confirmation_context(order: Order) -> dict:
    return {"order_number": order.number, "customer_name": order.customer_name, "currency": order.currency,
            "lines": [line.email_line() for line in order.lines],
            "subtotal": order.subtotal_amount, "shipping": order.shipping_amount, "tax": order.tax_amount,
            "total": order.total_amount, "shipping_address": order.shipping_address}


def record_refunds(order: Order, charge: dict) -> None:
    """Refunds seen on a charge: rows by Stripe id, and the order's refunded amount (never decreasing)."""
    payment = payment_for(order, intent_id=charge.get("payment_intent"))
    note_charge(order, payment, charge.get("id"))
    seen = []
    for refund in (charge.get("refunds") or {}).get("data", []):
        row = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == refund["id"]))
        if row is None:
            row = Refund(order_id=order.id, payment_id=payment.id, stripe_refund_id=refund["id"],
                         idempotency_key=f"stripe:{refund['id']}", amount=refund["amount"],
                         currency=refund.get("currency", order.currency))
            db.session.add(row)
        row.status = {"succeeded": "succeeded", "failed": "failed", "canceled": "cancelled"}.get(
            refund.get("status"), "pending")
        seen.append(row)
    refunded = max(order.refunded_amount, min(charge.get("amount_refunded", 0), order.total_amount))
    order.refunded_amount = refunded
    apply_refunded_status(order)  # before the payment, the amount waits: mark_order_paid applies it
    db.session.flush()
    _reverse_refunds(seen)  # refunds made in Stripe's dashboard take the stores' shares back too (once)


def _reverse_refunds(refunds) -> None:
    from covet.payments.refund_reversals import reverse_for_refund

    for refund in refunds:
        reverse_for_refund(refund)


def apply_refunded_status(order: Order) -> None:
    """A paid order with money refunded is refunded or partially_refunded (the refunded amount never falls)."""
    if order.payment_status in ("paid", "partially_refunded", "refunded") and order.refunded_amount:
        order.payment_status = ("refunded" if order.refunded_amount >= order.total_amount
                                else "partially_refunded")
