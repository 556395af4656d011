"""Send each store its share of a paid order (separate charges and transfers, transfer_group = order number)."""
from __future__ import annotations

from sqlalchemy import select

from covet.extensions import db
from covet.jobs import job
from covet.observability import get_logger
from covet.orders.models import Order
from covet.payments import gateway
from covet.payments.models import Payment, Transfer
from covet.stores.models import Store


def charge_id_of(intent: dict) -> str | None:
    """latest_charge is an id, or the charge itself when expanded (localstripe always expands it)."""
    charge = intent.get("latest_charge")
    return charge.get("id") if isinstance(charge, dict) else charge


def _charge_id(order: Order) -> str | None:
    payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id))
    if payment is None:
        return None
    if not payment.charge_id and payment.payment_intent_id:
        intent = gateway.call(f"/v1/payment_intents/{payment.payment_intent_id}")
        payment.charge_id = charge_id_of(intent)
    return payment.charge_id


@job(queue="high", timeout=120, retry=(30, 120, 600, 3600))
def send_transfers(order_id: int) -> int:
    """Create the Stripe transfers still pending; the idempotency key makes a retry safe."""
    order = db.session.get(Order, order_id)
    pending = db.session.scalars(select(Transfer).where(Transfer.order_id == order_id,
                                                        Transfer.stripe_transfer_id.is_(None))).all()
    sent = 0
    for transfer in pending:
        store = db.session.get(Store, transfer.store_id)
        if not (store.stripe_account_id and store.payouts_enabled) or transfer.amount == 0:
            # Not onboarded yet: Stripe would refuse, and no retry can fix that. Staff see "waiting".
            transfer.status = "waiting" if transfer.amount else "skipped"
            continue
        params = {"amount": transfer.amount, "currency": transfer.currency, "destination": store.stripe_account_id,
                  "transfer_group": transfer.transfer_group, "metadata": {"order_id": order.id}}
        if charge := _charge_id(order):
            params["source_transaction"] = charge  # the transfer waits for the charge's funds
        result = gateway.call("/v1/transfers", "post", params, idempotency_key=f"transfer:{order.id}:{store.id}")
        transfer.stripe_transfer_id, transfer.status = result["id"], "created"
        sent += 1
    db.session.commit()
    get_logger("covet.payments").info("transfers_sent", extra={"order_id": order_id, "sent": sent})
    return sent
