"""Demo disputes in every state worth seeing, on paid orders with shipments and the emails Covet sent.

needs response due in 2 days (product not received, shipped), due in 10 days (fraudulent), under review with
evidence submitted, won and lost; plus the stores' refund, shipping and cancellation policies the evidence uses.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders.models import Fulfilment, Order
from covet.payments.models import Payment
from covet.stores.models import Store

POLICIES = {
    "refund_policy": "Unworn items in their original packaging can be returned within 30 days of delivery for a "
                     "full refund. Made-to-measure pieces cannot be returned.",
    "shipping_policy": "Orders ship within 2 business days by DHL Express with tracking and signature on delivery.",
    "cancellation_policy": "Orders can be cancelled free of charge until they ship.",
}
# (stripe id, reason, status, evidence due in, submitted)
DISPUTES = [("dp_demo_1", "product_not_received", "needs_response", dt.timedelta(days=2), False),
            ("dp_demo_2", "fraudulent", "needs_response", dt.timedelta(days=10), False),
            ("dp_demo_3", "product_unacceptable", "under_review", dt.timedelta(days=-3), True),
            ("dp_demo_4", "product_not_received", "won", dt.timedelta(days=-20), True),
            ("dp_demo_5", "fraudulent", "lost", dt.timedelta(days=-25), True)]


def seed_disputes(orders: list[Order]) -> None:
    now = utcnow()
    for store in db.session.scalars(select(Store)):
        for name, text in POLICIES.items():
            setattr(store, name, text)
    paid = [order for order in orders if order.payment_status == "paid"]
    for (stripe_id, reason, status, due_in, submitted), order in zip(DISPUTES, paid, strict=False):
        _ship(order, now)
        _emails(order)
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
        db.session.add(Dispute(
            stripe_dispute_id=stripe_id, charge_id=payment.charge_id if payment else f"ch_demo_{order.number}",
            order_id=order.id, amount=order.total_amount, currency=order.currency, reason=reason, status=status,
            evidence_due_by=now + due_in, has_evidence=submitted, submission_count=int(submitted),
            submitted_at=now + due_in - dt.timedelta(days=2) if submitted else None,
            network_reason_code={"fraudulent": "10.4", "product_not_received": "13.1"}.get(reason, "13.3"),
            fee_amount=1500, outcome=status if status in ("won", "lost") else None, stripe_updated_at=now,
            created_at=now + due_in - dt.timedelta(days=7 if status == "needs_response" else 21)))


def _ship(order: Order, now: dt.datetime) -> None:
    """A disputed order that shipped: its lines fulfilled by DHL, one parcel per store."""
    if db.session.scalar(select(Fulfilment.id).where(Fulfilment.order_id == order.id)):
        return
    shipped_at = min(order.created_at + dt.timedelta(days=1), now)
    for store_id in sorted({line.store_id for line in order.lines}):
        db.session.add(Fulfilment(order_id=order.id, store_id=store_id, carrier="DHL",
                                  tracking_number=f"JD0146{order.id:05d}{store_id}", shipped_at=shipped_at))
    for line in order.lines:
        line.quantity_fulfilled = line.quantity
    order.fulfilment_status = "fulfilled"


def _emails(order: Order) -> None:
    """The order confirmation and shipping emails, as delivered."""
    for template, delay in (("order_confirmation", dt.timedelta(minutes=3)),
                            ("shipping_notification", dt.timedelta(days=1, minutes=5))):
        key = f"demo-{template}-{order.number}"
        if db.session.scalar(select(EmailOutbox.id).where(EmailOutbox.idempotency_key == key)):
            continue
        sent = order.created_at + delay
        db.session.add(EmailOutbox(template=template, recipient=order.email, idempotency_key=key, status="sent",
                                   attempts=1, provider="console", created_at=sent, sent_at=sent, order_id=order.id,
                                   context={"order_number": order.number, "customer_name": order.customer_name,
                                            "currency": order.currency, "carrier": "DHL",
                                            "tracking_number": f"JD0146{order.id:05d}", "lines": [],
                                            "subtotal": order.subtotal_amount, "shipping": 0, "tax": 0,
                                            "total": order.total_amount}))
