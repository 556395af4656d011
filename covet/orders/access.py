"""Who may see which orders: staff and admins every order; a merchant only orders holding their lines."""
from __future__ import annotations

from sqlalchemy import exists, select

from covet.audit.services import Actor
from covet.errors import NotFoundError
from covet.extensions import db
from covet.orders.models import Order, OrderLine

STAFF_ROLES = ("admin", "staff", "system")


def is_staff(actor: Actor) -> bool:
    return actor.role in STAFF_ROLES


def store_scope(actor: Actor) -> int | None:
    """The store a merchant is limited to; None for staff (every store)."""
    return None if is_staff(actor) else (actor.store_id or -1)


def holds_store_lines(store_id: int):
    """WHERE clause: the order has at least one line of `store_id` (served by ix_order_lines_store_order)."""
    return exists().where(OrderLine.order_id == Order.id, OrderLine.store_id == store_id)


def scoped(stmt, actor: Actor):
    """Limit a select over Order to the orders `actor` may see."""
    store_id = store_scope(actor)
    return stmt if store_id is None else stmt.where(holds_store_lines(store_id))


def order_for(actor: Actor, order_id: int, lock: bool = False) -> Order:
    """The order if `actor` may see it (row-locked with `lock`), else NotFoundError — never a hint it exists."""
    stmt = scoped(select(Order).where(Order.id == order_id), actor)
    if lock:
        stmt = stmt.with_for_update(of=Order)
    order = db.session.scalar(stmt)
    if order is None:
        raise NotFoundError(f"order {order_id}")
    return order


def visible_lines(order: Order, actor: Actor) -> list[OrderLine]:
    """The order's lines `actor` may see: all for staff, their store's for a merchant."""
    store_id = store_scope(actor)
    return [line for line in order.lines if store_id is None or line.store_id == store_id]


def require_staff(actor: Actor) -> None:
    """Refunds, cancellations and assignment are staff work; a merchant asking gets 'not found'."""
    if not is_staff(actor):
        raise NotFoundError("staff only")
