"""Read-only queries for an order's detail page: one bounded statement per source, whatever the order's size.

What a merchant sees is cut here, once: their store's lines, fulfilments, transfers and notes, their own
subtotal; never payments, refunds, other stores' data or the customer's IP.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from covet.accounts.models import User
from covet.audit.services import Actor
from covet.catalog.models import Variant
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.media.models import Media
from covet.media.queries import image_url
from covet.orders import timeline
from covet.orders.access import order_for, store_scope
from covet.orders.fulfilment import fulfilment_status
from covet.orders.models import Fulfilment, FulfilmentLine, Order, OrderLine, OrderNote, OrderTag
from covet.payments.models import Payment, Refund, RefundReversal, Transfer
from covet.payments.refund_reversals import LABELS as REVERSAL_LABELS
from covet.stores.models import Store

LIMIT = 200  # rows per source: an order with more than this of anything is read in the audit log
THUMBNAIL_WIDTH = 320
PAYABLE = ("paid", "partially_refunded")  # the payment states in which an order can be shipped


@dataclass
class StoreSection:
    """One store's lines of the order: what it sells, ships and is paid for."""

    store: Store
    lines: list[OrderLine]

    @property
    def subtotal(self) -> int:
        return sum(line.total_amount for line in self.lines)

    @property
    def remaining(self) -> dict[int, int]:
        """Line id → units still to ship."""
        return {line.id: remaining_to_ship(line) for line in self.lines}

    @property
    def to_ship(self) -> int:
        return sum(self.remaining.values())


@dataclass
class ShippedLine:
    line: OrderLine | None
    quantity: int


@dataclass
class FulfilmentView:
    fulfilment: Fulfilment
    store: Store | None
    created_by: str | None
    lines: list[ShippedLine] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(item.quantity for item in self.lines)


@dataclass
class RefundView:
    refund: Refund
    created_by: str | None
    # What each store gave back for it: (store name, amount, currency, how) — see payments/refund_reversals.
    reversals: list[tuple[str, int, str, str]] = field(default_factory=list)


@dataclass
class NoteView:
    note: OrderNote
    author: str | None


@dataclass
class OrderDetail:
    order: Order
    staff: bool
    store_id: int | None  # the merchant's store; None for staff
    lines: list[OrderLine]
    stores: dict[int, Store]
    thumbnails: dict[int, str]  # line id → image URL
    payments: list[Payment]
    refunds: list[RefundView]
    fulfilments: list[FulfilmentView]
    disputes: list[Dispute]
    transfers: list[Transfer]
    notes: list[NoteView]
    tags: list[str]
    assignee: User | None
    timeline: list[timeline.Entry]

    @property
    def sections(self) -> list[StoreSection]:
        by_store: dict[int, list[OrderLine]] = {}
        for line in self.lines:
            by_store.setdefault(line.store_id, []).append(line)
        return [StoreSection(self.stores[store_id], lines) for store_id, lines in by_store.items()]

    @property
    def subtotal(self) -> int:
        """The amount this viewer is shown: the order total for staff, their lines' subtotal for a merchant."""
        return self.order.total_amount if self.staff else sum(line.total_amount for line in self.lines)

    @property
    def payment_badge(self) -> str:
        """A merchant sees whether the order is paid, not how other stores' lines were refunded."""
        if self.staff or self.order.payment_status not in PAYABLE:
            return self.order.payment_status
        return "paid"

    @property
    def fulfilment_badge(self) -> str:
        """Staff: the order's status; a merchant: their own lines' (other stores ship on their own)."""
        return self.order.fulfilment_status if self.staff else fulfilment_status(self.lines)

    @property
    def captured(self) -> Payment | None:
        return next((p for p in self.payments if p.status == "succeeded"), None)

    @property
    def pending_refunds(self) -> int:
        return sum(view.refund.amount for view in self.refunds if view.refund.status == "pending")

    @property
    def refundable(self) -> int:
        return max(0, self.order.refundable_amount - self.pending_refunds)

    @property
    def shippable(self) -> bool:
        return self.order.state == "open" and self.order.payment_status in PAYABLE

    def can_ship(self, section: StoreSection) -> bool:
        return self.shippable and section.to_ship > 0

    @property
    def can_refund(self) -> bool:
        return self.staff and self.order.payment_status in PAYABLE and self.captured is not None \
            and self.refundable > 0

    @property
    def can_cancel(self) -> bool:
        """Open and nothing shipped (a payment still settling waits) — or cancelled with its refund unfinished."""
        if not self.staff or self.fulfilments or any(line.quantity_fulfilled for line in self.lines):
            return False
        if self.order.state == "open":
            return self.order.payment_status != "pending"
        return self.finishing_cancellation

    @property
    def finishing_cancellation(self) -> bool:
        """Cancelled, but money is still owed back (the refund failed): cancelling again finishes it."""
        return self.order.state == "cancelled" and self.can_refund

    def line(self, line_id: int) -> OrderLine | None:
        return next((line for line in self.lines if line.id == line_id), None)


def remaining_to_ship(line: OrderLine) -> int:
    """Units of a line not yet shipped nor refunded before shipping."""
    return max(0, line.quantity - line.quantity_fulfilled - line.quantity_refunded)


def load_detail(actor: Actor, order_id: int) -> OrderDetail:
    """Everything the detail page shows of one order to `actor` (NotFoundError if they may not see it)."""
    order = order_for(actor, order_id)
    store_id = store_scope(actor)
    staff = store_id is None
    lines = _lines(order.id, store_id)
    fulfilments = _fulfilments(order.id, store_id, lines)
    refunds = _refunds(order.id) if staff else []
    notes = _notes(order.id, store_id)
    return OrderDetail(
        order=order, staff=staff, store_id=store_id, lines=lines, stores=_stores({ln.store_id for ln in lines}),
        thumbnails=thumbnails(lines), payments=_payments(order.id) if staff else [], refunds=refunds,
        # Stores are emailed about disputes on their orders: they see that one exists and when evidence is due.
        fulfilments=fulfilments, disputes=_disputes(order.id), transfers=_transfers(order.id, store_id),
        notes=notes, tags=_tags(order.id) if staff else [],
        assignee=db.session.get(User, order.assignee_id) if staff and order.assignee_id else None,
        timeline=timeline.build(order, store_id, lines=lines, notes=notes, fulfilments=fulfilments, refunds=refunds))


def _lines(order_id: int, store_id: int | None) -> list[OrderLine]:
    stmt = select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.store_id, OrderLine.id)
    if store_id is not None:
        stmt = stmt.where(OrderLine.store_id == store_id)
    return list(db.session.scalars(stmt.limit(LIMIT)))


def _stores(store_ids: set[int]) -> dict[int, Store]:
    if not store_ids:
        return {}
    return {store.id: store for store in db.session.scalars(select(Store).where(Store.id.in_(store_ids)))}


def thumbnails(lines: list[OrderLine]) -> dict[int, str]:
    """Line id → URL of its variant's product's first ready image, for all lines in one statement."""
    variant_ids = {line.variant_id for line in lines if line.variant_id}
    if not variant_ids:
        return {}
    first = (select(Variant.id.label("variant_id"), Media.id.label("media_id"),
                    func.row_number().over(partition_by=Variant.id, order_by=(Media.position, Media.id))
                    .label("rank"))
             .join(Media, Media.product_id == Variant.product_id)
             .where(Variant.id.in_(variant_ids), Media.status == "ready").subquery())
    rows = db.session.execute(select(first.c.variant_id, Media).join(Media, Media.id == first.c.media_id)
                              .where(first.c.rank == 1))
    by_variant = {variant_id: image_url(media, THUMBNAIL_WIDTH) for variant_id, media in rows}
    return {line.id: by_variant[line.variant_id] for line in lines if by_variant.get(line.variant_id)}


def _payments(order_id: int) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.order_id == order_id)
                                   .order_by(Payment.created_at, Payment.id).limit(LIMIT)))


def _refunds(order_id: int) -> list[RefundView]:
    rows = db.session.execute(select(Refund, User.email).outerjoin(User, User.id == Refund.created_by_id)
                              .where(Refund.order_id == order_id)
                              .order_by(Refund.created_at.desc(), Refund.id.desc()).limit(LIMIT))
    views = [RefundView(refund, email) for refund, email in rows]
    by_refund: dict[int, list] = {}
    if views:
        for reversal, name in db.session.execute(
                select(RefundReversal, Store.name).join(Store, Store.id == RefundReversal.store_id)
                .where(RefundReversal.refund_id.in_([v.refund.id for v in views])).order_by(RefundReversal.id)):
            by_refund.setdefault(reversal.refund_id, []).append(
                (name, reversal.amount, reversal.currency, REVERSAL_LABELS.get(reversal.status, reversal.status)))
    for view in views:
        view.reversals = by_refund.get(view.refund.id, [])
    return views


def _fulfilments(order_id: int, store_id: int | None, lines: list[OrderLine]) -> list[FulfilmentView]:
    """The order's shipments (a merchant's own only), each with its lines, from one joined statement."""
    stmt = (select(Fulfilment, Store, User.email, FulfilmentLine)
            .join(Store, Store.id == Fulfilment.store_id)
            .outerjoin(User, User.id == Fulfilment.created_by_id)
            .outerjoin(FulfilmentLine, FulfilmentLine.fulfilment_id == Fulfilment.id)
            .where(Fulfilment.order_id == order_id)
            .order_by(Fulfilment.shipped_at.desc(), Fulfilment.id.desc(), FulfilmentLine.order_line_id))
    if store_id is not None:
        stmt = stmt.where(Fulfilment.store_id == store_id)
    by_line = {line.id: line for line in lines}
    views: dict[int, FulfilmentView] = {}
    for fulfilment, store, email, item in db.session.execute(stmt.limit(LIMIT)):
        view = views.setdefault(fulfilment.id, FulfilmentView(fulfilment, store, email))
        if item is not None:
            view.lines.append(ShippedLine(by_line.get(item.order_line_id), item.quantity))
    return list(views.values())


def _disputes(order_id: int) -> list[Dispute]:
    return list(db.session.scalars(select(Dispute).where(Dispute.order_id == order_id)
                                   .order_by(Dispute.created_at.desc()).limit(LIMIT)))


def _transfers(order_id: int, store_id: int | None) -> list[Transfer]:
    stmt = select(Transfer).where(Transfer.order_id == order_id).order_by(Transfer.store_id)
    if store_id is not None:
        stmt = stmt.where(Transfer.store_id == store_id)
    return list(db.session.scalars(stmt.limit(LIMIT)))


def _notes(order_id: int, store_id: int | None) -> list[NoteView]:
    """Newest first; a merchant reads only notes written by their store's people (staff notes stay internal)."""
    stmt = (select(OrderNote, User.email).outerjoin(User, User.id == OrderNote.author_id)
            .where(OrderNote.order_id == order_id).order_by(OrderNote.created_at.desc(), OrderNote.id.desc()))
    if store_id is not None:
        stmt = stmt.where(User.store_id == store_id)
    return [NoteView(note, email) for note, email in db.session.execute(stmt.limit(LIMIT))]


def _tags(order_id: int) -> list[str]:
    return list(db.session.scalars(select(OrderTag.tag).where(OrderTag.order_id == order_id)
                                   .order_by(OrderTag.tag).limit(LIMIT)))
