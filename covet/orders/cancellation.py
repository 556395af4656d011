"""Refunds and cancellations from the order queue: checked here, money moved by payments.refunds.

A refund is recorded (pending) before Stripe is asked, so every step can be finished by repeating the
same form: a pending refund Stripe never answered is asked again with the same Stripe idempotency key,
and the restock that goes with a refund is applied once, marked on the refund row (`Refund.restock`).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy import exists, func, select, update

from covet.audit.models import AuditLog
from covet.audit.services import Actor, record
from covet.catalog.models import Variant
from covet.catalog.stock import adjust_stock
from covet.dbtypes import utcnow
from covet.errors import ValidationError
from covet.extensions import db
from covet.money import format_money
from covet.notifications.models import EmailOutbox
from covet.notifications.services import queue_email
from covet.orders.access import order_for, require_staff
from covet.orders.fulfilment import whole_number
from covet.orders.models import CAPTURED, Order, OrderLine
from covet.orders.services import refuse
from covet.payments import gateway
from covet.payments.models import Payment, Refund
from covet.payments.refunds import refund_order
from covet.payments.services import apply_refunded_status

SOLD = ("paid", "partially_refunded", "refunded")  # sell_stock ran when the order became paid
# A pending refund without a Stripe id older than this was abandoned (a crash, a timeout): a Stripe call
# with its retries (3 attempts × connect + read timeouts of 10 s) is over well before.
STUCK_AFTER = dt.timedelta(minutes=2)
NOT_CONFIRMED = "Stripe has not confirmed this refund yet; try again in a couple of minutes."
NOTHING_LEFT = "Nothing is left to refund on this order."
_AMOUNT_ZERO = "Enter an amount above zero."
IN_FLIGHT = ("The order is cancelled; its refund is still with Stripe. Reload in a minute to see it — if it is "
             "still pending then, cancel again to finish it.")


def _by_key(idempotency_key: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))


def refundable(order: Order) -> int:
    """What may still be refunded: the total less refunds made and refunds still pending."""
    pending = db.session.scalar(select(func.coalesce(func.sum(Refund.amount), 0))
                                .where(Refund.order_id == order.id, Refund.status == "pending"))
    return order.total_amount - order.refunded_amount - pending


def _amount_problem(order: Order, amount) -> str | None:
    if order.payment_status not in CAPTURED:
        return "This order has no captured payment to refund."
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _AMOUNT_ZERO
    left = refundable(order)
    if amount > left:
        return (f"At most {format_money(left, order.currency)} can be refunded." if left > 0
                else NOTHING_LEFT)
    return None


def _returns(order: Order, restock: dict | None) -> tuple[dict[OrderLine, int], dict]:
    """Line → units coming back, and errors keyed "restock" or "restock-<line id>"."""
    by_id = {line.id: line for line in order.lines}
    chosen, errors = {}, {}
    for key, value in (restock or {}).items():
        line = by_id.get(whole_number(key))
        if line is None:
            errors["restock"] = f"Line {key} is not part of this order."
            continue
        quantity, left = whole_number(value), line.quantity - line.quantity_refunded
        if quantity is None or not 0 <= quantity <= left:
            errors[f"restock-{line.id}"] = f"Return between 0 and {left} of {line.sku}."
        elif quantity:
            chosen[line] = quantity
    return chosen, errors


def refund(order_id: int, amount: int, actor: Actor, idempotency_key: str, restock: dict[int, int] | None = None,
           reason: str | None = None) -> Refund:
    """Refund `amount` (minor units) through Stripe; `restock` maps order line id → units back to stock."""
    require_staff(actor)
    if not idempotency_key:
        raise ValueError("every refund needs an idempotency key (one per submitted form)")
    order = order_for(actor, order_id, lock=True)
    if (found := _by_key(idempotency_key)) is not None:
        return _resume(found, order, actor, restock)
    _, errors = _returns(order, restock)
    if problem := _amount_problem(order, amount):
        errors["amount"] = problem
    if errors:
        refuse(errors)
    made = _ask_stripe(lambda: refund_order(order_id, amount, actor, idempotency_key, reason=reason),
                       idempotency_key, actor, order_id, amount)
    _apply_restock(made.id, restock, actor)
    return made


def _resume(found: Refund, order: Order, actor: Actor, restock: dict | None) -> Refund:
    """The refund a repeated form already made, finished if it was left half-way."""
    if found.order_id != order.id:
        refuse({"amount": "This form was already used for another refund; reload the page and try again."})
    if found.stripe_refund_id is None and found.status == "failed":
        refuse({"amount": "Stripe refused this refund. Reload the page to try again."})
    if found.stripe_refund_id is None and found.status == "pending":
        if found.created_at > utcnow() - STUCK_AFTER:
            refuse({"amount": NOT_CONFIRMED})  # its request may still be talking to Stripe
        found = _ask_stripe(lambda: _finish_stuck(found, order, actor), found.idempotency_key, actor, order.id,
                            found.amount)
    else:
        db.session.rollback()
    _apply_restock(found.id, restock, actor)
    return found


def _finish_stuck(found: Refund, order: Order, actor: Actor) -> Refund:
    """Ask Stripe again, exactly as refund_order did (same key: Stripe replays or makes it), and record it."""
    payment = db.session.get(Payment, found.payment_id)
    result = gateway.call("/v1/refunds", "post", {"payment_intent": payment.payment_intent_id,
                                                  "amount": found.amount, "metadata": {"order_id": order.id}},
                          idempotency_key=f"refund:{found.idempotency_key}")
    status = "succeeded" if result.get("status") == "succeeded" else "pending"
    seen = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == result["id"]))
    if seen is not None:  # the charge.refunded webhook recorded (and counted) it first: keep one row, ours
        status = seen.status
        db.session.delete(seen)
        db.session.flush()
    elif status == "succeeded":
        order.refunded_amount += found.amount
        apply_refunded_status(order)
    found.stripe_refund_id, found.status = result["id"], status
    if status == "succeeded":
        from covet.payments.refund_reversals import reverse_for_refund

        reverse_for_refund(found)
    record(actor, "order.refunded", "order", order.id,
           after={"amount": found.amount, "refund": result["id"], "resumed": True})
    db.session.commit()
    return found


def _ask_stripe(call: Callable[[], Refund], idempotency_key: str, actor: Actor, order_id: int,
                amount: int) -> Refund:
    """Run a Stripe refund call; its failure becomes a ValidationError on "amount", with the row settled."""
    try:
        return call()
    except (gateway.GatewayError, gateway.PaymentsDisabledError) as exc:
        db.session.rollback()
        message = getattr(exc, "message", str(exc))
        retryable = bool(getattr(exc, "retryable", False))
        row = _by_key(idempotency_key)
        if row is not None and row.status == "pending" and row.stripe_refund_id is None and not retryable:
            row.status = "failed"  # Stripe refused it: no refund exists there, and the amount is free again
        record(actor, "order.refund_failed", "order", order_id,
               after={"amount": amount, "error": message, "retryable": retryable})
        db.session.commit()
        if retryable:  # Stripe may have made it: the pending row holds the amount until a retry finishes it
            message += " The refund is held as pending: submit the same form again in a couple of minutes."
        raise ValidationError({"amount": message}) from exc


def _apply_restock(refund_id: int, restock: dict | None, actor: Actor) -> None:
    """Put the returned units back (ledger "returned") and count them refunded, once per refund."""
    if not restock:
        return
    found = db.session.get(Refund, refund_id, populate_existing=True)
    order = db.session.scalar(select(Order).where(Order.id == found.order_id).with_for_update())
    won = db.session.execute(update(Refund).where(Refund.id == refund_id, Refund.restock.is_(False),
                                                  Refund.stripe_refund_id.is_not(None))
                             .values(restock=True).execution_options(synchronize_session=False)).rowcount
    if not won:  # already applied by an earlier submission, or Stripe has not taken the refund
        db.session.rollback()
        return
    returns, _ = _returns(order, {k: v for k, v in restock.items()})
    for line, quantity in sorted(returns.items(), key=lambda item: item[0].variant_id or 0):
        line.quantity_refunded += quantity
        _back_to_stock(order, line, quantity, "returned", actor, f"refund of order {order.number}")
    order.updated_at = utcnow()
    record(actor, "order.restocked", "order", order.id,
           after={"refund_id": refund_id, "lines": {str(line.id): q for line, q in returns.items()}})
    db.session.commit()


def _back_to_stock(order: Order, line: OrderLine, quantity: int, reason: str, actor: Actor, note: str) -> None:
    """Return units to the variant's stock through the ledger, if they were ever taken from it."""
    if order.payment_status not in SOLD or line.stock_problem is not None or line.variant_id is None:
        return  # never sold from stock (unpaid, oversold, or the variant is gone): nothing to put back
    variant = db.session.get(Variant, line.variant_id, with_for_update=True)
    if variant is not None:
        adjust_stock(variant, quantity, reason, actor, note=note, order_id=order.id)


# --- cancellation ---------------------------------------------------------------------------------------

def cancel_order(order_id: int, actor: Actor, idempotency_key: str, reason: str = "", restock: bool = True) -> Order:
    """Cancel an unshipped order: refund what was captured, put sold stock back, tell the customer once."""
    require_staff(actor)
    if not idempotency_key:
        raise ValueError("every cancellation needs an idempotency key (one per submitted form)")
    order = order_for(actor, order_id, lock=True)
    if order.state != "cancelled":
        _check_cancellable(order)
        _mark_cancelled(order, actor, reason, restock)
    elif not (_refund_owed(order) or _email_owed(order)):
        db.session.rollback()
        return order  # already cancelled and settled: nothing changes, no second email
    else:
        db.session.rollback()
    _refund_rest(order_id, actor, idempotency_key, reason)
    order = db.session.get(Order, order_id, populate_existing=True)
    queue_email("order_cancelled", order.email, cancelled_context(order), f"order-cancelled:{order.number}",
                order_id=order.id)
    db.session.commit()
    return order


def _check_cancellable(order: Order) -> None:
    if order.state == "closed":
        refuse({"cancel": "This order is closed — it cannot be cancelled."})
    if any(line.quantity_fulfilled for line in order.lines):
        refuse({"cancel": "Already shipped — refund instead."})
    if order.payment_status == "pending":
        refuse({"cancel": "A payment is still being processed — wait until it settles, then cancel."})


def _mark_cancelled(order: Order, actor: Actor, reason: str, restock: bool) -> None:
    """State cancelled; sold units back to stock (ledger "cancelled") and counted as no longer owed."""
    returned = {}
    if order.payment_status in SOLD:
        for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):  # one lock order: no deadlocks
            left = line.quantity - line.quantity_fulfilled - line.quantity_refunded
            if left > 0:
                line.quantity_refunded += left
                if restock:
                    _back_to_stock(order, line, left, "cancelled", actor, f"order {order.number} cancelled")
                    returned[str(line.id)] = left
    order.state, order.cancelled_at = "cancelled", utcnow()
    record(actor, "order.cancelled", "order", order.id, before={"state": "open"},
           after={"state": "cancelled", "reason": reason or None, "restocked": returned})
    db.session.commit()


def _unfinished(order_id: int) -> list[Refund]:
    """Refunds of the order recorded but never confirmed by Stripe (a lost answer, a crash)."""
    return list(db.session.scalars(select(Refund).where(Refund.order_id == order_id, Refund.status == "pending",
                                                        Refund.stripe_refund_id.is_(None)).order_by(Refund.id)))


def _refund_owed(order: Order) -> bool:
    return bool(_unfinished(order.id)) or (order.payment_status in CAPTURED and refundable(order) > 0)


def _email_owed(order: Order) -> bool:
    """Cancelled here (audited) but the cancellation email is not in the outbox yet (a crash in between)."""
    cancelled_here = exists().where(AuditLog.entity_type == "order", AuditLog.entity_id == str(order.id),
                                    AuditLog.action == "order.cancelled")
    emailed = exists().where(EmailOutbox.idempotency_key == f"order-cancelled:{order.number}")
    return bool(db.session.scalar(select(cancelled_here & ~emailed)))


def _refund_rest(order_id: int, actor: Actor, idempotency_key: str, reason: str) -> None:
    """Finish refunds left half-way, then refund whatever is still refundable.

    While another request's refund is still with Stripe nothing more is refunded and no email is sent
    (the customer must read the amount actually refunded): the request that made it sends the email."""
    try:
        for row in _unfinished(order_id):
            if row.created_at > utcnow() - STUCK_AFTER:
                raise ValidationError({"cancel": IN_FLIGHT})
            refund(order_id, row.amount, actor, row.idempotency_key)
        order = db.session.get(Order, order_id, populate_existing=True)
        if order.payment_status not in CAPTURED:
            return
        key = f"{idempotency_key}:refund"
        if _by_key(key) is not None:  # that attempt was refused or failed: Stripe needs a new key
            key = f"{key}:{uuid.uuid4().hex[:12]}"
        refund(order_id, refundable(order), actor, key, reason=reason or "order cancelled")
    except ValidationError as exc:
        if "cancel" in exc.errors:
            raise
        if exc.errors.get("amount") in (NOTHING_LEFT, NOT_CONFIRMED, _AMOUNT_ZERO):
            raise ValidationError({"cancel": IN_FLIGHT}) from exc  # a refund made meanwhile holds the rest
        message = " ".join(exc.errors.values())
        raise ValidationError({"cancel": f"The order is cancelled, but the refund did not go through: {message} "
                                         "Cancel it again to finish the refund."}) from exc


def cancelled_context(order: Order) -> dict:
    """The order_cancelled email's context."""
    return {"order_number": order.number, "customer_name": order.customer_name, "currency": order.currency,
            "refunded_amount": order.refunded_amount,
            "lines": [line.email_line() for line in order.lines]}
