"""Helpers for refund and cancellation tests: orders paid through the Stripe fake, with their stock really sold."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from covet.audit.models import AuditLog
from covet.catalog.models import InventoryAdjustment, Variant
from covet.dbtypes import utcnow
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order
from covet.payments.models import Payment, Refund
from covet.payments.services import sell_stock


@pytest.fixture
def paid_order(app, make_order, stripe_fake):
    """paid_order(quantity=…, stores=…) → an order paid by a PaymentIntent the Stripe fake knows, stock sold."""
    stripe_fake.set_stripe_config(app)

    def make(**kwargs):
        order = make_order(**kwargs)
        intent = stripe_fake.add_payment_intent(order.total_amount, "eur")
        db.session.execute(update(Payment).where(Payment.order_id == order.id)
                           .values(payment_intent_id=intent["id"], charge_id=intent["latest_charge"]))
        sell_stock(db.session.get(Order, order.id))  # what mark_order_paid does when the payment lands
        db.session.commit()
        return db.session.get(Order, order.id)
    return make


def stock(variant) -> int:
    return db.session.scalar(select(Variant.stock_on_hand).where(Variant.id == variant.id))


def ledger(reason: str) -> list[tuple[int, int]]:
    """(variant id, delta) of the ledger rows with this reason, oldest first."""
    return db.session.execute(select(InventoryAdjustment.variant_id, InventoryAdjustment.delta)
                              .where(InventoryAdjustment.reason == reason).order_by(InventoryAdjustment.id)).all()


def actions(prefix: str = "order.") -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).where(AuditLog.action.like(f"{prefix}%"))
                                   .order_by(AuditLog.id)))


def refunds() -> list[Refund]:
    return list(db.session.scalars(select(Refund).order_by(Refund.id)))


def outbox(template: str) -> list[EmailOutbox]:
    return list(db.session.scalars(select(EmailOutbox).where(EmailOutbox.template == template)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def age_refund(key: str, minutes: int = 10) -> None:
    """The refund row was written this long ago (its request is long over)."""
    db.session.execute(update(Refund).where(Refund.idempotency_key == key)
                       .values(created_at=utcnow() - dt.timedelta(minutes=minutes)))
    db.session.commit()
