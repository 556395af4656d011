"""Stripe event type → handler. Each handler is idempotent and gives the same end state in any order."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.observability import get_logger
from covet.payments import services as payments

log = get_logger("covet.webhooks")


@dataclass
class OrderLink:
    """The order the running handler found, for linking the stored event to it (the order's timeline)."""

    order_id: int | None = None


_current_link: ContextVar[OrderLink | None] = ContextVar("webhook_order_link", default=None)


@contextmanager
def linking_order() -> Iterator[OrderLink]:
    """Collect the order a handler resolves while it runs (also when it then fails)."""
    link = OrderLink()
    token = _current_link.set(link)
    try:
        yield link
    finally:
        _current_link.reset(token)


def _link(order_id: int | None) -> None:
    link = _current_link.get()
    if link is not None and order_id is not None:
        link.order_id = order_id


def _object(event: dict) -> dict:
    return event["data"]["object"]


class OrderNotYetKnownError(LookupError):
    """The event names no order we know yet; failing lets the retry find it once earlier events land."""


def _order(obj: dict, event: dict, required: bool = False):
    order = payments.order_for(obj)
    if order is None and obj.get("payment_intent"):
        try:
            order = _order_via_intent(obj["payment_intent"])
        except NotOursError:
            log.info("event_not_ours", extra={"event": event["id"], "type": event["type"]})
            return None  # nothing of ours to change; retrying would never help
    if order is None:
        log.warning("event_without_order", extra={"event": event["id"], "type": event["type"]})
        if required:
            raise OrderNotYetKnownError(f"{event['type']} {obj.get('id')}: no order yet")
    else:
        _link(order.id)
    return order


class NotOursError(LookupError):
    """Stripe knows the payment, and it is not a Covet order (another product on the same account)."""


def _order_via_intent(intent_id: str):
    """When in doubt, ask Stripe: the PaymentIntent carries our order id in its metadata."""
    from covet.payments import gateway

    try:
        intent = gateway.call(f"/v1/payment_intents/{intent_id}")
    except (gateway.PaymentsDisabledError, gateway.GatewayError):
        return None
    if not (intent.get("metadata") or {}).get("order_id"):
        raise NotOursError(intent_id)
    return payments.order_for(intent)


def checkout_completed(event: dict) -> None:
    session = _object(event)
    if (order := _order(session, event)) is None:
        return
    paid = session.get("payment_status") in ("paid", "no_payment_required")
    payment = payments.payment_for(order, session_id=session["id"], intent_id=session.get("payment_intent"),
                                   succeeded=paid)
    payment.amount = session.get("amount_total") or payment.amount
    if paid:
        payments.advance(payment, "succeeded")
        payments.mark_order_paid(order)
    elif order.payment_status == "unpaid":
        order.payment_status = "pending"  # a delayed method (bank debit): payment_intent.succeeded follows
    db.session.commit()


def checkout_expired(event: dict) -> None:
    session = _object(event)
    if (order := _order(session, event)) is None:
        return
    payment = payments.payment_for(order, session_id=session["id"])
    if order.payment_status in payments.UNPAID and order.state == "open":
        order.state, order.cancelled_at = "cancelled", utcnow()
    if order.payment_status in payments.UNPAID:
        payments.advance(payment, "expired")
    db.session.commit()


def intent_succeeded(event: dict) -> None:
    intent = _object(event)
    if (order := _order(intent, event)) is None:
        return
    payment = payments.payment_for(order, intent_id=intent["id"], succeeded=True)
    from covet.payments.transfers import charge_id_of

    payments.advance(payment, "succeeded")
    payments.note_charge(order, payment, charge_id_of(intent), latest=True)
    payments.mark_order_paid(order)
    db.session.commit()


def intent_failed(event: dict) -> None:
    intent = _object(event)
    if (order := _order(intent, event)) is None:
        return
    payment = payments.payment_for(order, intent_id=intent["id"])
    if payments.advance(payment, "failed"):  # never undoes a success, nor an expiry (PAYMENT_RANK)
        payment.failure_message = ((intent.get("last_payment_error") or {}).get("message") or "")[:500] or None
    if order.payment_status in ("unpaid", "pending"):
        order.payment_status = "failed"
    db.session.commit()


def charge_refunded(event: dict) -> None:
    charge = _object(event)
    if (order := _order(charge, event, required=True)) is None:
        return  # a charge of something else on the same Stripe account
    payments.record_refunds(order, charge)
    db.session.commit()


def dispute_changed(event: dict) -> None:
    """Apply the dispute, note funds withdrawn / reinstated, then settle what the stores owe (in this job)."""
    from covet.disputes import liability
    from covet.disputes.services import apply_stripe_dispute

    dispute = apply_stripe_dispute(_object(event), event["created"])
    _link(dispute.order_id)
    liability.record_funds(dispute, _object(event), event["type"], event["created"])
    liability.settle(dispute)  # idempotent: harmless when apply_stripe_dispute settles too


def payout_paid(event: dict) -> None:
    from covet.payouts.services import record_payout

    record_payout(_object(event), event.get("account"))


def account_updated(event: dict) -> None:
    """Fetch the account now rather than trust this payload: an older event may arrive after a newer one."""
    from sqlalchemy import select

    from covet.payments.gateway import GatewayError, PaymentsDisabledError
    from covet.stores.models import Store
    from covet.stores.services import refresh_store_account, sync_store_account

    account = _object(event)
    store_id = db.session.scalar(select(Store.id).where(Store.stripe_account_id == account.get("id")))
    if store_id is None:
        return
    try:
        refresh_store_account(store_id)
    except (PaymentsDisabledError, GatewayError):
        sync_store_account(account)  # no API to ask: the payload is the best we have
        db.session.commit()


HANDLERS: dict[str, Callable[[dict], None]] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "checkout.session.expired": checkout_expired,
    "payment_intent.succeeded": intent_succeeded,
    "payment_intent.payment_failed": intent_failed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
    "charge.dispute.funds_withdrawn": dispute_changed,
    "charge.dispute.funds_reinstated": dispute_changed,
    "payout.paid": payout_paid,
    "account.updated": account_updated,
}
