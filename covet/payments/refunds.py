"""Refund an order, fully or partly, through Stripe (for the order queue)."""
from __future__ import annotations

from sqlalchemy import select

from covet.audit.services import Actor, record
from covet.catalog.models import Variant
from covet.catalog.stock import adjust_stock
from covet.errors import ValidationError
from covet.extensions import db
from covet.orders.models import Order
from covet.payments import gateway
from covet.payments.models import Payment, Refund
from covet.payments.refund_reversals import reverse_for_refund
from covet.payments.services import apply_refunded_status


def refund_order(order_id: int, amount: int, actor: Actor, idempotency_key: str, reason: str | None = None,
                 restock: dict[int, int] | None = None) -> Refund:
    """Refund `amount` (minor units, ≤ refundable); `restock` maps order line id → quantity back to stock.

    The idempotency key (one per click of the form) makes a double-click or a retry one refund."""
    existing = db.session.scalar(select(Refund).where(Refund.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    order = db.session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order_id, Payment.status == "succeeded"))
    if order is None or payment is None or not payment.payment_intent_id:
        raise ValidationError({"amount": "This order has no captured payment to refund."})
    pending = sum(r.amount for r in db.session.scalars(select(Refund).where(
        Refund.order_id == order_id, Refund.status == "pending")))
    refundable = order.total_amount - order.refunded_amount - pending
    if not 0 < amount <= refundable:
        raise ValidationError({"amount": f"Refund between 0.01 and the refundable {refundable} (minor units)."})
    refund = Refund(order_id=order.id, payment_id=payment.id, amount=amount, currency=order.currency,
                    reason=reason, idempotency_key=idempotency_key, restock=bool(restock), created_by_id=actor.user_id)
    db.session.add(refund)
    db.session.commit()  # recorded before Stripe is asked, so a crash in between is visible and retryable
    result = gateway.call("/v1/refunds", "post", {"payment_intent": payment.payment_intent_id, "amount": amount,
                                                  "metadata": {"order_id": order.id}},
                          idempotency_key=f"refund:{idempotency_key}")
    refund.stripe_refund_id = result["id"]
    refund.status = "succeeded" if result.get("status") == "succeeded" else "pending"
    if refund.status == "succeeded":
        order.refunded_amount += amount
        apply_refunded_status(order)
        reverse_for_refund(refund)  # the stores' shares come back from their transfers
    for line in order.lines:
        quantity = (restock or {}).get(line.id, 0)
        if quantity and line.variant_id and 0 < quantity <= line.quantity:
            adjust_stock(db.session.get(Variant, line.variant_id), quantity, "returned", actor,
                         note=f"refund of order {order.number}", order_id=order.id)
    record(actor, "order.refunded", "order", order.id, after={"amount": amount, "refund": refund.stripe_refund_id})
    db.session.commit()
    return refund
