"""CSV export of orders: what the exporting user may see, read 500 orders at a time."""
from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from covet.audit.services import Actor
from covet.catalog.csv_export import _defuse as defuse  # one formula-injection rule for every CSV we write
from covet.extensions import db
from covet.money import to_major
from covet.orders.access import scoped, store_scope
from covet.orders.models import Order, OrderLine

COLUMNS = ["number", "created_at", "email", "customer_name", "currency", "total", "refunded", "payment_status",
           "fulfilment_status", "state", "assignee", "tags", "stores", "skus"]
BATCH = 500  # orders per query, with their lines and tags: memory stays flat however many are exported


def _batches(order_ids: Iterable[int], actor: Actor) -> Iterator[list[Order]]:
    """The orders the actor may see, ascending by id, BATCH at a time.

    Read through a session of its own, emptied after each batch: the caller's objects are never touched."""
    ids = sorted(set(order_ids))
    with Session(db.engine) as session:
        for start in range(0, len(ids), BATCH):
            stmt = (scoped(select(Order).where(Order.id.in_(ids[start:start + BATCH])), actor).order_by(Order.id)
                    .options(selectinload(Order.lines).joinedload(OrderLine.store), selectinload(Order.tags),
                             joinedload(Order.assignee)))
            batch = list(session.scalars(stmt).unique())
            if batch:
                yield batch
            session.expunge_all()


def export_rows(order_ids: Iterable[int], actor: Actor) -> Iterator[dict]:
    """One CSV row per order (a dict keyed by COLUMNS); a merchant gets only their orders and their lines."""
    for batch in _batches(order_ids, actor):
        for order in batch:
            yield order_row(order, actor)


def order_row(order: Order, actor: Actor) -> dict:
    """An order as a CSV row; for a merchant the total, stores and SKUs are those of their own lines."""
    scope = store_scope(actor)
    lines = [line for line in order.lines if scope is None or line.store_id == scope]
    total = order.total_amount if scope is None else sum(line.unit_price_amount * line.quantity for line in lines)
    stores = list(dict.fromkeys(line.store.name for line in lines))
    return {"number": order.number, "created_at": order.created_at.isoformat(), "email": order.email,
            "customer_name": order.customer_name, "currency": order.currency.upper(),
            "total": to_major(total, order.currency),
            # Order-wide figures and staff-only fields are left out of a merchant's file.
            "refunded": to_major(order.refunded_amount, order.currency) if scope is None else "",
            "payment_status": order.payment_status, "fulfilment_status": order.fulfilment_status,
            "state": order.state, "assignee": order.assignee.email if order.assignee and scope is None else "",
            "tags": "; ".join(tag.tag for tag in order.tags) if scope is None else "", "stores": "; ".join(stores),
            "skus": "; ".join(line.sku for line in lines)}


def write_orders_csv(rows: Iterable[dict], out: IO[str], on_row=None) -> int:
    """Write the rows as CSV (UTF-8 BOM first, for spreadsheet apps) to a text file; returns the row count.

    on_row(count) is called every 500 rows (progress)."""
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for count, row in enumerate(rows, start=1):
        writer.writerow({key: defuse(value) for key, value in row.items()})
        if on_row and count % 500 == 0:
            on_row(count)
    return count
