"""Send each store its share of a paid order (separate charges and transfers, transfer_group = order number).

A store that owes the platform for a dispute (`StoreDebt`, see covet/disputes/liability.py) has its open
debt in the transfer's currency subtracted from its next transfer, oldest debt first; the amount netted is
decided once and saved on the transfer before Stripe is asked, so a retry sends the same request. A
transfer the debt swallows whole is never sent (status "netted"); a transfer is never negative."""
from __future__ import annotations

from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs import job
from covet.observability import get_logger
from covet.orders.models import Order
from covet.payments import gateway
from covet.payments.models import Payment, StoreDebt, Transfer
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
    """Create the Stripe transfers still unsent; the idempotency key makes a retry, or a second job that fired
    for the same order (payouts enabled, the sweep, staff's Retry), one transfer per order and store."""
    order = db.session.get(Order, order_id)
    unsent = db.session.scalars(select(Transfer).where(
        Transfer.order_id == order_id, Transfer.status.not_in(("netted", "skipped")),
        Transfer.stripe_transfer_id.is_(None)).order_by(Transfer.id).with_for_update()).all()
    sent, failed = 0, []
    for transfer in unsent:
        try:
            sent += _send(order, transfer)
        except gateway.GatewayError as exc:
            transfer.status, transfer.failure_reason = "failed", exc.message[:500]
            if not exc.retryable:  # Stripe answered "no": the next try is a new request (a new key)
                transfer.refusals += 1
            failed.append(exc)
    db.session.commit()
    get_logger("covet.payments").info("transfers_sent", extra={"order_id": order_id, "sent": sent,
                                                                "failed": len(failed)})
    if any(exc.retryable for exc in failed):
        raise failed[0]  # RQ retries with backoff; the sweep and staff's Retry cover the rest
    return sent


def _send(order: Order, transfer: Transfer) -> int:
    """Send one store's transfer if the store can receive it: 1 when Stripe created it, else 0."""
    store = db.session.get(Store, transfer.store_id)
    if not (store.stripe_account_id and store.payouts_enabled) or transfer.amount == 0:
        # Not onboarded yet: Stripe would refuse. "waiting" until account.updated, the Connect return page
        # or the sweep finds payouts enabled (release_waiting_transfers).
        transfer.status = "waiting" if transfer.amount else "skipped"
        return 0
    amount = transfer.amount - net_debt(transfer)
    if amount == 0:
        transfer.status = "netted"  # all of it paid the store's dispute debt
        return 0
    params = {"amount": amount, "currency": transfer.currency, "destination": store.stripe_account_id,
              "transfer_group": transfer.transfer_group, "metadata": {"order_id": order.id}}
    if charge := _charge_id(order):
        params["source_transaction"] = charge  # the transfer waits for the charge's funds
    key = f"transfer:{order.id}:{store.id}" + (f":r{transfer.refusals}" if transfer.refusals else "")
    result = gateway.call("/v1/transfers", "post", params, idempotency_key=key)
    transfer.stripe_transfer_id, transfer.status, transfer.failure_reason = result["id"], "created", None
    return 1


def transfer_summary(store_id: int, limit: int = 20) -> dict:
    """The store's transfers for its page: counts per status and the latest ones with their order numbers."""
    from sqlalchemy import func

    counts = dict(db.session.execute(select(Transfer.status, func.count()).where(Transfer.store_id == store_id)
                                     .group_by(Transfer.status)).all())
    latest = db.session.execute(select(Transfer, Order.number).join(Order, Order.id == Transfer.order_id)
                                .where(Transfer.store_id == store_id)
                                .order_by(Transfer.id.desc()).limit(limit)).all()
    return {"counts": counts, "latest": latest, "retryable": counts.get("waiting", 0) + counts.get("failed", 0)}


def retry_store_transfers(store_id: int, actor) -> int:
    """Staff's Retry: send the store's waiting and failed transfers again (audited); the orders queued."""
    from covet.audit.services import record
    from covet.errors import ValidationError

    store = db.session.get(Store, store_id)
    if not (store.payouts_enabled and store.stripe_account_id):
        raise ValidationError({"transfers": "This store cannot receive transfers yet: its Stripe payouts are "
                                            "not enabled."})
    queued = release_waiting_transfers(store.id)
    record(actor, "store.transfers_retried", "store", store.id, after={"orders": queued}, store_id=store.id)
    db.session.commit()
    return queued


def release_waiting_transfers(store_id: int | None = None, statuses: tuple[str, ...] = ("waiting", "failed"),
                              limit: int = 500) -> int:
    """Queue send_transfers for every order with a transfer in `statuses` to a store that can now receive it
    (one store, or all); runs after the caller's commit. The number of orders queued."""
    from covet.jobs import enqueue

    query = (select(Transfer.order_id).join(Store, Store.id == Transfer.store_id)
             .where(Transfer.status.in_(statuses), Transfer.stripe_transfer_id.is_(None),
                    Store.payouts_enabled.is_(True), Store.stripe_account_id.is_not(None))
             .distinct().order_by(Transfer.order_id).limit(limit))
    if store_id is not None:
        query = query.where(Transfer.store_id == store_id)
    order_ids = db.session.scalars(query).all()
    for order_id in order_ids:
        enqueue(send_transfers, order_id)
    return len(order_ids)


def net_debt(transfer: Transfer) -> int:
    """Settle the store's open debt in this currency out of this transfer (once); the amount taken."""
    if transfer.debt_netted is not None:
        return transfer.debt_netted
    debts = db.session.scalars(select(StoreDebt).where(
        StoreDebt.store_id == transfer.store_id, StoreDebt.currency == transfer.currency,
        StoreDebt.status == "open").order_by(StoreDebt.id).with_for_update())
    room = transfer.amount
    for debt in debts:
        if room == 0:
            break
        if debt.amount > room:  # covered in part: the rest stays open as its own row
            db.session.add(StoreDebt(store_id=debt.store_id, dispute_id=debt.dispute_id, reversal_id=debt.reversal_id,
                                     amount=debt.amount - room, currency=debt.currency, reason=debt.reason))
            debt.amount = room
        debt.status, debt.settled_by_transfer_id, debt.settled_at = "settled", transfer.id, utcnow()
        room -= debt.amount
    transfer.debt_netted = transfer.amount - room
    db.session.commit()  # decided before Stripe is asked: a retry sends the same amount under the same key
    if transfer.debt_netted:
        get_logger("covet.payments").info("dispute_debt_netted", extra={"transfer": transfer.id,
                                                                         "amount": transfer.debt_netted})
    return transfer.debt_netted
