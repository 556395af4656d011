"""Seller liability for disputes on multi-store orders (Connect: separate charges and transfers).

Stripe debits the platform for a disputed charge; the stores were paid by transfers. `settle(dispute)`
makes Stripe match what the dispute's state says each store owes, and is safe to call any number of
times, after any event, in any order:

- **What is wanted** comes only from what we know, never from which event came last: the dispute is
  `lost`, or Stripe withdrew the funds and has not reinstated them → each store's share is taken back;
  `won` / `warning_closed` / `prevented`, or the funds were reinstated → nothing is taken back. The
  withdrawn / reinstated facts live in `DisputeLiability` (set once, never cleared) and come from the
  `charge.dispute.funds_*` events and from the dispute's own `balance_transactions` in any dispute event.
- **Shares**: store share = its transfer amount / the order's transfer amounts × the disputed amount,
  in minor units, largest remainder (ties to the lower store id) so the shares sum exactly to the
  disputed amount. A store is never liable for more than its transfer less what was already reversed on
  it (refunds, other disputes); what is over that, and the commission, stays with the platform.
- **The fee** (Stripe's dispute fee) stays with the platform, as Stripe does by default for separate
  charges: stores answer for the disputed amount only (`Dispute.fee_amount` shows the fee).
- **Reversal**: one per dispute and store (`dispute-reversal:<dispute id>:<store id>`), its amount fixed
  when booked (the row is committed before Stripe is asked). What cannot be reversed — the seller's
  balance is short (`balance_insufficient`), or the transfer was not sent yet / was netted — becomes a
  `StoreDebt`, which `send_transfers` nets against the store's next transfers in that currency.
- **Undo**: once nothing is wanted, a reversal not yet done is cancelled (after checking Stripe did not
  make it after all), open debt is cancelled (money never taken is not given back), and what was taken —
  the reversal plus debt already netted — is re-transferred once (`dispute-retransfer:<dispute>:<store>`).
  Reverse then re-transfer is the whole life of a dispute: a re-transferred store is never reversed again.
- **Failures**: any other Stripe error leaves the row `failed` with Stripe's message; the same key is
  retried for errors that may not have been final (network, 5xx, 429), a fresh key after a 4xx Stripe
  saved under the old one. `settle` enqueues `settle_dispute` (a job with backoff) while rows are failed.

Events in a different order may take different paths (withdrawn → reversed → won → re-transferred, or
won first → nothing), but each store ends with the same net: taken back minus given back, and open debt.
`settle` calls Stripe inline: it runs inside the webhook job (jobs call services). From a web request,
enqueue `settle_dispute(dispute.id)` instead.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from covet.dbtypes import insert_if_absent, utcnow
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.jobs import enqueue, job
from covet.observability import get_logger
from covet.orders.models import Order
from covet.payments import gateway
from covet.payments.models import DisputeLiability, StoreDebt, Transfer, TransferReversal
from covet.stores.models import Store

log = get_logger("covet.disputes.liability")
RELEASED = ("won", "warning_closed", "prevented")  # closed in the seller's favour, or no chargeback at all
WITHDRAWN, REINSTATED = "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"


class LiabilityPendingError(RuntimeError):
    """Stripe has not yet done everything a dispute needs; the job raises it so the queue retries later."""


def pro_rata(total: int, weights: dict[int, int]) -> dict[int, int]:
    """Split `total` minor units by `weights` (largest remainder, ties to the lower key): parts sum to total."""
    whole = sum(weights.values())
    if whole <= 0 or total <= 0:
        return dict.fromkeys(weights, 0)
    parts = {key: total * weight // whole for key, weight in weights.items()}
    left = total - sum(parts.values())
    for key in sorted(weights, key=lambda k: (-(total * weights[k] % whole), k))[:left]:
        parts[key] += 1
    return parts


def facts_of(dispute_id: int) -> DisputeLiability:
    """The dispute's money facts, created on first use (one row even when two events race)."""
    facts = db.session.scalar(select(DisputeLiability).where(DisputeLiability.dispute_id == dispute_id))
    if facts is None:
        insert_if_absent(DisputeLiability, "dispute_id", dispute_id=dispute_id)
        facts = db.session.scalar(select(DisputeLiability).where(DisputeLiability.dispute_id == dispute_id))
    return facts


def record_funds(dispute: Dispute, obj: dict, event_type: str = "", event_created: int | None = None) -> None:
    """Note what Stripe says about the dispute's money: the event's type and the dispute's balance transactions."""
    at = dt.datetime.fromtimestamp(event_created, dt.UTC) if event_created else utcnow()
    withdrawn, reinstated = event_type == WITHDRAWN, event_type == REINSTATED
    for txn in obj.get("balance_transactions") or []:
        amount = (txn.get("amount") or 0) if isinstance(txn, dict) else 0
        withdrawn, reinstated = withdrawn or amount < 0, reinstated or amount > 0
    if not (withdrawn or reinstated):
        return
    facts = facts_of(dispute.id)
    if withdrawn:
        facts.funds_withdrawn_at = min(facts.funds_withdrawn_at or at, at)
    if reinstated:
        facts.funds_reinstated_at = min(facts.funds_reinstated_at or at, at)
    db.session.commit()


def wants_reversal(dispute: Dispute, facts: DisputeLiability | None) -> bool:
    """Whether the stores should be paying for this dispute now (see the module docstring)."""
    if dispute.status in RELEASED:
        return False
    if dispute.status == "lost":
        return True
    return facts is not None and facts.funds_withdrawn_at is not None and facts.funds_reinstated_at is None


def settle(dispute: Dispute) -> None:
    """Make Stripe match what each store owes for this dispute (idempotent, any event order); retried by a job."""
    try:
        settled = _settle(dispute.id)
    except gateway.PaymentsDisabledError:
        db.session.rollback()
        log.warning("dispute_liability_without_stripe", extra={"dispute": dispute.id})
        return  # no Stripe to ask: the rows stay as they are until STRIPE_SECRET_KEY is set and settle runs again
    if not settled:
        enqueue(settle_dispute, dispute.id)
        db.session.commit()


@job(queue="default", timeout=120, retry=(60, 300, 1800))
def settle_linked_dispute(dispute_id: int) -> None:
    """A dispute linked to its order after it arrived (its payment came later): settle what the stores owe."""
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is not None:
        settle(dispute)


@job(queue="default", timeout=120, retry=(60, 300, 1800, 7200, 21600))
def settle_dispute(dispute_id: int) -> None:
    """Retry what the last settle of a dispute could not do; fails (and is retried) while Stripe still refuses."""
    if not _settle(dispute_id):
        raise LiabilityPendingError(f"dispute {dispute_id}: a reversal or re-transfer is still failing")


def settle_outstanding(limit: int = 200) -> int:
    """Settle every dispute with a pending or failed row (a periodic safety net); the number still failing."""
    ids = db.session.scalars(select(TransferReversal.dispute_id).where(
        TransferReversal.status.in_(("pending", "failed"))).distinct().limit(limit)).all()
    return sum(not _settle(dispute_id) for dispute_id in ids)


def order_transfers(order_id: int) -> list[Transfer]:
    return list(db.session.scalars(select(Transfer).where(Transfer.order_id == order_id, Transfer.amount > 0)
                                   .order_by(Transfer.store_id)))


def shares_of(dispute: Dispute, transfers: list[Transfer]) -> dict[int, int]:
    """Each store's share of the disputed amount (only transfers in the dispute's currency count)."""
    same = {t.store_id: t.amount for t in transfers if t.currency == dispute.currency}
    return pro_rata(dispute.amount, same)


def _settle(dispute_id: int) -> bool:
    """One pass over the dispute's stores; True when nothing is left failing."""
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is None or dispute.order_id is None:
        return True
    transfers = order_transfers(dispute.order_id)
    shares = shares_of(dispute, transfers)
    reverse = wants_reversal(dispute, db.session.scalar(
        select(DisputeLiability).where(DisputeLiability.dispute_id == dispute.id)))
    ok = True
    for transfer in transfers:
        if transfer.store_id not in shares:
            log.warning("dispute_currency_differs", extra={"dispute": dispute.id, "transfer": transfer.id})
            continue
        if reverse:
            ok = _take_back(dispute, transfer, shares[transfer.store_id]) and ok
        else:
            ok = _give_back(dispute, transfer) and ok
    return ok


def _row(dispute_id: int, store_id: int, kind: str) -> TransferReversal | None:
    return db.session.scalar(select(TransferReversal).where(
        TransferReversal.dispute_id == dispute_id, TransferReversal.store_id == store_id,
        TransferReversal.kind == kind))


def _book(dispute: Dispute, transfer: Transfer, kind: str, amount: int, status: str) -> TransferReversal:
    """Insert the row once (a racing settle loses quietly and uses the winner's); committed before Stripe."""
    prefix = "dispute-reversal" if kind == "reverse" else "dispute-retransfer"
    key = f"{prefix}:{dispute.id}:{transfer.store_id}"
    now = utcnow()
    insert_if_absent(TransferReversal, "idempotency_key", idempotency_key=key, dispute_id=dispute.id,
                     store_id=transfer.store_id, transfer_id=transfer.id, kind=kind, amount=amount,
                     currency=transfer.currency, status=status, created_at=now, updated_at=now)
    return db.session.scalar(select(TransferReversal).where(TransferReversal.idempotency_key == key))


def _take_back(dispute: Dispute, transfer: Transfer, share: int) -> bool:
    if _row(dispute.id, transfer.store_id, "retransfer") is not None:
        return True  # reversed and given back already: a dispute's life is over for this store
    row = _row(dispute.id, transfer.store_id, "reverse") or _book(dispute, transfer, "reverse", 0, "pending")
    if row.status not in ("pending", "failed"):
        return True
    row = _locked(row)  # one settler at a time per row (PostgreSQL); the lock ends at the next commit
    if row.attempts == 0:  # never sent: its amount can still be decided (again, after a failed look-up)
        try:
            _size_reversal(row, transfer, share)
        except gateway.GatewayError as exc:
            row.status, row.error = "failed", exc.message[:500]
            db.session.commit()
            return False
    if row.status in ("pending", "failed"):
        _reverse(row, transfer)
    db.session.commit()
    return row.status != "failed"


def _locked(row: TransferReversal) -> TransferReversal:
    return db.session.scalar(select(TransferReversal).where(TransferReversal.id == row.id).with_for_update()
                             .execution_options(populate_existing=True))


def _size_reversal(row: TransferReversal, transfer: Transfer, share: int) -> None:
    """Fix what the store owes: reversible on Stripe now, the rest (never transferred, or netted) as debt."""
    reversed_before, reversible = 0, 0
    if transfer.stripe_transfer_id:
        remote = gateway.call(f"/v1/transfers/{transfer.stripe_transfer_id}")
        reversed_before = remote.get("amount_reversed") or 0
        reversible = remote["amount"] - reversed_before
    liable = max(0, min(share, transfer.amount - reversed_before))
    row.amount = min(liable, reversible)
    row.status, row.error = ("pending" if row.amount else ("debt" if liable else "done")), None
    if liable > row.amount:
        db.session.add(StoreDebt(store_id=row.store_id, dispute_id=row.dispute_id, reversal_id=row.id,
                                 amount=liable - row.amount, currency=row.currency, reason="not_transferred"))


def _reverse(row: TransferReversal, transfer: Transfer) -> None:
    """Ask Stripe for the reversal; a short seller balance turns the amount into debt."""
    row.attempts += 1
    db.session.commit()  # from here on Stripe may have it: the amount is fixed and a cancel must ask Stripe first
    try:
        if row.attempts > 1 and (found := _made_already(row, transfer)):
            result = found
        else:
            result = gateway.call(f"/v1/transfers/{transfer.stripe_transfer_id}/reversals", "post",
                                  {"amount": row.amount, "metadata": _metadata(row)}, idempotency_key=row.stripe_key)
    except gateway.GatewayError as exc:
        if exc.code == "balance_insufficient":
            row.status, row.error = "debt", exc.message[:500]
            db.session.add(StoreDebt(store_id=row.store_id, dispute_id=row.dispute_id, reversal_id=row.id,
                                     amount=row.amount, currency=row.currency, reason="balance_insufficient"))
        else:
            _failed(row, exc)
    else:
        row.status, row.stripe_id, row.error = "done", result["id"], None
    db.session.commit()


def _metadata(row: TransferReversal) -> dict:
    return {"covet_dispute_id": row.dispute_id, "covet_store_id": row.store_id, "covet_kind": row.kind}


def _made_already(row: TransferReversal, transfer: Transfer) -> dict | None:
    """A reversal of ours Stripe made though we never heard back (a timeout, or a key older than 24 h)."""
    listed = gateway.call(f"/v1/transfers/{transfer.stripe_transfer_id}/reversals", params={"limit": 100})
    for reversal in listed.get("data", []):
        meta = reversal.get("metadata") or {}
        if str(meta.get("covet_dispute_id")) == str(row.dispute_id) and meta.get("covet_kind") == "reverse":
            return reversal
    return None


def _failed(row: TransferReversal, exc: gateway.GatewayError) -> None:
    row.status, row.error = "failed", exc.message[:500]
    if not exc.retryable and exc.status and 400 <= exc.status < 500:
        row.key_generation += 1  # Stripe saved this refusal under the key: the retry must be a new request
    log.warning("dispute_liability_failed", extra={"row": row.id, "kind": row.kind, "code": exc.code})


def _give_back(dispute: Dispute, transfer: Transfer) -> bool:
    row = _row(dispute.id, transfer.store_id, "reverse")
    if row is None:
        return True
    if row.status in ("pending", "failed"):
        row = _locked(row)
        try:  # once sent (attempts > 0) Stripe may have made it though we never heard back
            found = _made_already(row, transfer) if row.attempts and transfer.stripe_transfer_id else None
        except gateway.GatewayError:
            return False  # cannot tell whether Stripe reversed it: ask again next time
        row.status, row.stripe_id, row.error = ("done", found["id"], None) if found else ("cancelled", None, None)
    back = _row(dispute.id, transfer.store_id, "retransfer")
    if back is None:
        db.session.execute(update(StoreDebt).where(StoreDebt.reversal_id == row.id, StoreDebt.status == "open")
                           .values(status="cancelled", settled_at=utcnow()))
        collected = db.session.scalar(select(func.coalesce(func.sum(StoreDebt.amount), 0)).where(
            StoreDebt.reversal_id == row.id, StoreDebt.status == "settled"))
        taken = (row.amount if row.status == "done" else 0) + collected
        db.session.commit()
        if not taken:
            return True
        back = _book(dispute, transfer, "retransfer", taken, "pending")
        db.session.commit()
    if back.status in ("pending", "failed"):
        _retransfer(back, transfer)
    return back.status != "failed"


def _retransfer(back: TransferReversal, transfer: Transfer) -> None:
    """Send the store back what its dispute took (from the platform's balance, which Stripe reinstated)."""
    back = _locked(back)
    back.attempts += 1
    store = db.session.get(Store, back.store_id)
    order_number = db.session.scalar(select(Order.number).where(Order.id == transfer.order_id))
    db.session.commit()
    try:
        if not store.stripe_account_id:
            raise gateway.GatewayError("The store has no Stripe account to send the money back to.")
        result = gateway.call("/v1/transfers", "post", {
            "amount": back.amount, "currency": back.currency, "destination": store.stripe_account_id,
            "transfer_group": order_number, "metadata": _metadata(back)}, idempotency_key=back.stripe_key)
    except gateway.GatewayError as exc:
        _failed(back, exc)
    else:
        back.status, back.stripe_id, back.error = "done", result["id"], None
    db.session.commit()
