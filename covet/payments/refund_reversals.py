"""Refunds take the sellers' share back: each succeeded refund reverses, from each store's transfer of the
order, that store's part of it (separate charges and transfers: the platform refunds the buyer, so without
this the seller would keep the money of a refunded sale).

Rule (pro rata): a refund of R out of an order's total T takes back floor(transfer × R / T) from each store's
transfer — the transfer is already the store's lines less commission, so the commission is refunded in the
same proportion and shipping (part of T) is shared the same way. The last refund of an order takes back
whatever is left of each transfer, so a full refund leaves nothing with the stores.

Per refund and store: at most one reversal (unique row, Stripe idempotency key). A transfer not sent yet is
cut instead (status "netted"); a reversal Stripe refuses for the seller's balance becomes the store's debt
(StoreDebt, netted against its next transfers): nothing is silently dropped. Refunds made in Stripe's
dashboard arrive as charge.refunded and are reversed the same way, once."""
from __future__ import annotations

from sqlalchemy import func, select

from covet.extensions import db
from covet.jobs import enqueue, job
from covet.observability import get_logger
from covet.orders.models import Order
from covet.payments import gateway
from covet.payments.models import Refund, RefundReversal, StoreDebt, Transfer

log = get_logger("covet.payments")
# What each state means to support reading the order page.
LABELS = {"done": "reversed on Stripe", "netted": "cut before it was sent", "pending": "being reversed",
          "failed": "reversal failing, retried",
          "debt": "the store's balance was short: it owes this, netted from its next transfers"}


def reverse_for_refund(refund: Refund) -> None:
    """Book the stores' shares of a succeeded refund (in the caller's transaction) and queue their sending."""
    if refund.status != "succeeded" or db.session.scalar(
            select(RefundReversal.id).where(RefundReversal.refund_id == refund.id).limit(1)) is not None:
        return
    order = db.session.get(Order, refund.order_id)
    booked = False
    for transfer in db.session.scalars(select(Transfer).where(Transfer.order_id == order.id)
                                       .order_by(Transfer.id).with_for_update()):
        share = _share(order, refund, transfer)
        if share <= 0:
            continue
        reversal = RefundReversal(refund_id=refund.id, store_id=transfer.store_id, transfer_id=transfer.id,
                                  amount=share, currency=transfer.currency, status="pending")
        db.session.add(reversal)
        if transfer.stripe_transfer_id is None:  # not sent yet: send less
            transfer.amount -= share
            reversal.status = "netted"
        else:
            booked = True
    db.session.flush()
    if booked:
        enqueue(send_refund_reversals, refund.id)


def _share(order: Order, refund: Refund, transfer: Transfer) -> int:
    """This store's part of the refund: pro rata to the transfer as booked, capped by what is left of it."""
    def total(*where) -> int:
        return db.session.scalar(select(func.coalesce(func.sum(RefundReversal.amount), 0))
                                 .where(RefundReversal.transfer_id == transfer.id, *where)) or 0

    booked = transfer.amount + total(RefundReversal.status == "netted")  # before any cut
    left = booked - total()
    if transfer.stripe_transfer_id is None:  # a cut may not eat what already paid a dispute debt
        left = min(left, transfer.amount - (transfer.debt_netted or 0))
    if order.refunded_amount >= order.total_amount:  # fully refunded: nothing stays with the store
        return max(left, 0)
    return max(min(booked * refund.amount // max(order.total_amount, 1), left), 0)


@job(queue="high", timeout=120, retry=(30, 120, 600, 3600))
def send_refund_reversals(refund_id: int) -> int:
    """Ask Stripe to reverse each booked share; a short seller balance becomes the store's debt."""
    reversals = db.session.scalars(select(RefundReversal).where(
        RefundReversal.refund_id == refund_id, RefundReversal.status.in_(("pending", "failed")))
        .order_by(RefundReversal.id).with_for_update()).all()
    done, retry = 0, None
    for reversal in reversals:
        transfer = db.session.get(Transfer, reversal.transfer_id)
        try:
            result = gateway.call(f"/v1/transfers/{transfer.stripe_transfer_id}/reversals", "post",
                                  {"amount": reversal.amount, "metadata": {"refund_id": refund_id}},
                                  idempotency_key=f"refund-reversal:{refund_id}:{reversal.store_id}")
        except gateway.GatewayError as exc:
            reversal.failure_reason = exc.message[:500]
            if exc.retryable:
                reversal.status, retry = "failed", exc
            else:  # the seller's balance is short (or the transfer cannot give more): the store owes it
                reversal.status = "debt"
                db.session.add(StoreDebt(store_id=reversal.store_id, amount=reversal.amount,
                                         currency=reversal.currency, reason="balance_insufficient"))
                log.warning("refund_reversal_became_debt", extra={"refund": refund_id, "store": reversal.store_id})
            continue
        reversal.stripe_reversal_id, reversal.status, reversal.failure_reason = result["id"], "done", None
        done += 1
    db.session.commit()
    if retry is not None:
        raise retry  # RQ retries with backoff
    return done

