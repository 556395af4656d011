"""Read-only views of dispute liability: per store on a dispute's detail, per dispute on a store's payouts page.

A row is one store on one dispute: its share of the disputed amount, what a Stripe reversal took back,
what was re-transferred, and its debt (open, collected from later transfers, cancelled). A handful of
queries per page whatever the number of rows (rows, debts, disputes, orders, transfers: each in one select).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from covet.disputes.liability import order_transfers, shares_of
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.orders.models import Order
from covet.payments.models import StoreDebt, Transfer, TransferReversal
from covet.stores.models import Store

LABELS = {"none": "Nothing taken back", "pending": "Reversal pending", "reversed": "Reversed",
          "debt": "Owed as debt (netted against the next transfers)", "collected": "Debt collected from transfers",
          "failed": "Failed, will retry", "giving_back": "Re-transfer pending", "given_back": "Re-transferred",
          "cancelled": "Cancelled before anything was taken"}


@dataclass
class LiabilityRow:
    dispute_id: int
    store_id: int
    store_name: str
    currency: str
    share: int = 0  # the store's pro-rata part of the disputed amount
    reversed: int = 0  # taken back by a Stripe transfer reversal
    retransferred: int = 0  # given back after the dispute was won / the funds reinstated
    debt_open: int = 0
    debt_settled: int = 0  # collected by netting against later transfers
    debt_cancelled: int = 0
    state: str = "none"
    error: str | None = None
    reversal_stripe_id: str | None = None
    retransfer_stripe_id: str | None = None
    stripe_dispute_id: str = ""
    dispute_status: str = ""
    order_id: int | None = None
    order_number: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def net(self) -> int:
        """What the store has paid for this dispute so far (taken back and collected, less given back)."""
        return self.reversed + self.debt_settled - self.retransferred


@dataclass
class StoreLiability:
    rows: list[LiabilityRow] = field(default_factory=list)
    open_debt: list[tuple[int, str, str, int]] = field(default_factory=list)  # (store id, name, currency, amount)


def liability_rows(dispute: Dispute, store_id: int | None = None) -> list[LiabilityRow]:
    """One row per store of the disputed order (only `store_id`'s for a merchant)."""
    if dispute.order_id is None:
        return []
    transfers = [t for t in order_transfers(dispute.order_id) if store_id in (None, t.store_id)]
    shares = shares_of(dispute, order_transfers(dispute.order_id))
    names = dict(db.session.execute(select(Store.id, Store.name).where(
        Store.id.in_([t.store_id for t in transfers]))).all())
    rows = {t.store_id: LiabilityRow(dispute.id, t.store_id, names[t.store_id], t.currency,
                                     share=shares.get(t.store_id, 0)) for t in transfers}
    _fill(dispute.id, rows)
    return list(rows.values())


def unscoped(stmt, store_column):
    return stmt


def store_liability(store_id: int | None = None, scope: Callable = unscoped, limit: int = 50) -> StoreLiability:
    """The latest disputes that touched a store's money (every store's for staff), and open debt per store."""
    stmt = scope(select(TransferReversal.dispute_id, TransferReversal.store_id, Store.name, TransferReversal.currency)
                 .join(Store, Store.id == TransferReversal.store_id).where(TransferReversal.kind == "reverse"),
                 TransferReversal.store_id)
    if store_id:
        stmt = stmt.where(TransferReversal.store_id == store_id)
    found = db.session.execute(stmt.order_by(TransferReversal.id.desc()).limit(limit)).all()
    disputes = {d.id: d for d in db.session.scalars(select(Dispute).where(
        Dispute.id.in_({r.dispute_id for r in found})))}
    numbers = dict(db.session.execute(select(Order.id, Order.number).where(
        Order.id.in_({d.order_id for d in disputes.values() if d.order_id}))).all())
    weights = defaultdict(list)
    for transfer in db.session.scalars(select(Transfer).where(Transfer.order_id.in_(numbers), Transfer.amount > 0)):
        weights[transfer.order_id].append(transfer)
    result = StoreLiability()
    for dispute_id, row_store, name, currency in found:
        dispute = disputes[dispute_id]
        share = shares_of(dispute, weights.get(dispute.order_id, [])).get(row_store, 0)
        result.rows.append(LiabilityRow(dispute_id, row_store, name, currency, share=share,
                                        stripe_dispute_id=dispute.stripe_dispute_id, dispute_status=dispute.status,
                                        order_id=dispute.order_id, order_number=numbers.get(dispute.order_id, "")))
    for dispute_id in {r.dispute_id for r in result.rows}:
        _fill(dispute_id, {r.store_id: r for r in result.rows if r.dispute_id == dispute_id})
    result.open_debt = _open_debt(store_id, scope)
    return result


def _open_debt(store_id: int | None, scope: Callable) -> list[tuple[int, str, str, int]]:
    stmt = scope(select(StoreDebt.store_id, Store.name, StoreDebt.currency, func.sum(StoreDebt.amount))
                 .join(Store, Store.id == StoreDebt.store_id).where(StoreDebt.status == "open"), StoreDebt.store_id)
    if store_id:
        stmt = stmt.where(StoreDebt.store_id == store_id)
    stmt = stmt.group_by(StoreDebt.store_id, Store.name, StoreDebt.currency).order_by(Store.name, StoreDebt.currency)
    return [tuple(r) for r in db.session.execute(stmt)]


def _fill(dispute_id: int, rows: dict[int, LiabilityRow]) -> None:
    """Add the dispute's reversals and debts to its stores' rows, and say where each store stands."""
    if not rows:
        return
    done: dict[tuple[int, str], TransferReversal] = {}
    for row in db.session.scalars(select(TransferReversal).where(TransferReversal.dispute_id == dispute_id,
                                                                 TransferReversal.store_id.in_(rows))):
        done[(row.store_id, row.kind)] = row
    for debt in db.session.scalars(select(StoreDebt).where(StoreDebt.dispute_id == dispute_id,
                                                           StoreDebt.store_id.in_(rows))):
        target = rows[debt.store_id]
        name = {"open": "debt_open", "settled": "debt_settled", "cancelled": "debt_cancelled"}[debt.status]
        setattr(target, name, getattr(target, name) + debt.amount)
    for store_id, target in rows.items():
        _state(target, done.get((store_id, "reverse")), done.get((store_id, "retransfer")))


def _state(target: LiabilityRow, reversal: TransferReversal | None, back: TransferReversal | None) -> None:
    if reversal is not None:
        target.reversed = reversal.amount if reversal.status == "done" else 0
        target.reversal_stripe_id = reversal.stripe_id
    if back is not None:
        target.retransferred = back.amount if back.status == "done" else 0
        target.retransfer_stripe_id = back.stripe_id
    failed = next((r for r in (back, reversal) if r is not None and r.status == "failed"), None)
    if failed is not None:
        target.state, target.error = "failed", failed.error
    elif back is not None:
        target.state = "given_back" if back.status == "done" else "giving_back"
    elif reversal is None:
        target.state = "none"
    elif reversal.status == "pending":
        target.state = "pending"
    elif target.debt_open:
        target.state = "debt"
    elif target.reversed:
        target.state = "reversed"
    elif target.debt_settled:
        target.state = "collected"
    else:
        target.state = "cancelled" if reversal.status == "cancelled" or target.debt_cancelled else "none"
