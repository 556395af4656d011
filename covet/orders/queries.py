"""Read-only selects for the order queue: keyset pages, capped tab counts, new-order polls, bulk selections.

No OFFSET (keyset cursors), no exact COUNT(*) over the table (counts stop at a cap), and a page costs a fixed
number of statements whatever its size.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from sqlalchemy import func, literal, select, tuple_

from covet.audit.services import Actor
from covet.disputes.models import NEEDS_RESPONSE, UNDER_REVIEW, Dispute
from covet.extensions import db
from covet.orders.access import holds_store_lines, store_scope
from covet.orders.filters import (  # noqa: F401 - filters_from_query / parse_filters are used through here too
    COUNT_CAP,
    NEW_CAP,
    STAFF_ONLY_VIEWS,
    VIEWS,
    QueueFilters,
    conditions,
    filters_from_query,
    parse_filters,
    view_clause,
    visible_sort,
)
from covet.orders.models import Order, OrderLine, OrderTag
from covet.web.cursors import cursor_datetime, cursor_int, decode_pair, encode_pair

OPEN_DISPUTE = NEEDS_RESPONSE + UNDER_REVIEW

# --- pages ------------------------------------------------------------------------------------------------

@dataclass
class QueueRow:
    id: int
    number: str
    created_at: dt.datetime
    email: str
    customer_name: str
    currency: str
    order_total: int
    payment_status: str
    fulfilment_status: str
    state: str
    assignee_id: int | None
    assignee: str | None
    version: int
    total: int = 0  # what the viewer sells: the whole order for staff, a merchant's own lines for a merchant
    items: int = 0
    stores: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    disputed: bool = False  # an open dispute (needs a response or under review)


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_after: str | None
    newest_id: int  # the since-cursor for "N new orders"


def _sort_columns(sort: str):
    column = Order.total_amount if sort.startswith("amount") else Order.created_at
    descending = sort in ("newest", "amount_desc")
    return column, descending


def _decode_after(cursor: str, sort: str) -> tuple | None:
    """The (sort value, id) a page starts after, or None for a cursor we did not write."""
    pair = decode_pair(cursor)
    if pair is None:
        return None
    value = cursor_int(pair[0]) if sort.startswith("amount") else cursor_datetime(pair[0])
    return None if value is None else (value, pair[1])


def _ordered(stmt, sort: str):
    column, descending = _sort_columns(sort)
    return stmt.order_by(*((column.desc(), Order.id.desc()) if descending else (column.asc(), Order.id.asc())))


def _keyset(filters: QueueFilters):
    """WHERE (sort value, id) < cursor (or >): no OFFSET, so page 50 costs what page 1 does."""
    after = _decode_after(filters.after, filters.sort) if filters.after else None
    if after is None:
        return None
    column, descending = _sort_columns(filters.sort)
    keys = tuple_(column, Order.id)
    return keys < after if descending else keys > after


def _row_select():
    from covet.accounts.models import User

    return (select(Order.id, Order.number, Order.created_at, Order.email, Order.customer_name, Order.currency,
                   Order.total_amount, Order.payment_status, Order.fulfilment_status, Order.state, Order.assignee_id,
                   func.coalesce(func.nullif(User.name, ""), User.email), Order.version)
            .outerjoin(User, User.id == Order.assignee_id))


def queue_page(filters: QueueFilters, actor: Actor) -> QueuePage:
    """One page of the queue: one select for the orders, then lines and tags for those ids only."""
    filters = replace(filters, sort=visible_sort(filters, actor))
    where = conditions(filters, actor)
    if (keyset := _keyset(filters)) is not None:
        where.append(keyset)
    stmt = _ordered(_row_select().where(*where).limit(filters.per + 1), filters.sort)
    rows = [QueueRow(*values) for values in db.session.execute(stmt)]
    more = len(rows) > filters.per
    rows = rows[:filters.per]
    _add_details(rows, actor)
    next_after = None
    if more and rows:
        last = rows[-1]
        value = last.order_total if filters.sort.startswith("amount") else last.created_at.isoformat()
        next_after = encode_pair(value, last.id)
    return QueuePage(rows, next_after, max((r.id for r in rows), default=0))


def _add_details(rows: list[QueueRow], actor: Actor) -> None:
    """Stores, SKUs, item counts (a merchant: their lines only) and tags for a page of rows: two statements."""
    if not rows:
        return
    from covet.stores.models import Store

    by_id = {row.id: row for row in rows}
    scope = store_scope(actor)
    for row in rows:
        row.total = row.order_total if scope is None else 0
    lines = (select(OrderLine.order_id, Store.name, OrderLine.sku, OrderLine.quantity, OrderLine.unit_price_amount)
             .join(Store, Store.id == OrderLine.store_id).where(OrderLine.order_id.in_(by_id))
             .order_by(OrderLine.order_id, OrderLine.id))
    if scope is not None:
        lines = lines.where(OrderLine.store_id == scope)
    for order_id, store, sku, quantity, price in db.session.execute(lines):
        row = by_id[order_id]
        row.items += quantity
        if store not in row.stores:
            row.stores.append(store)
        row.skus.append(sku)
        if scope is not None:
            row.total += quantity * price
    for order_id in db.session.scalars(select(Dispute.order_id).where(Dispute.order_id.in_(by_id),
                                                                       Dispute.status.in_(OPEN_DISPUTE))):
        by_id[order_id].disputed = True
    for order_id, tag in db.session.execute(select(OrderTag.order_id, OrderTag.tag)
                                            .where(OrderTag.order_id.in_(by_id)).order_by(OrderTag.tag)):
        by_id[order_id].tags.append(tag)


def _capped_count(where: list, cap: int | None = None):
    """count(*) of at most cap + 1 matching rows: an index range read, never the whole table."""
    cap = COUNT_CAP if cap is None else cap
    return select(func.count()).select_from(select(literal(1)).select_from(Order).where(*where)
                                            .limit(cap + 1).subquery()).scalar_subquery()


def tab_counts(actor: Actor, filters: QueueFilters | None = None) -> dict[str, int]:
    """Capped counts for every tab the actor sees, in one statement (shown as "1,000+" past the cap)."""
    base = conditions(QueueFilters(store_id=filters.store_id if filters else None), actor)
    views = [v for v in VIEWS if store_scope(actor) is None or v not in STAFF_ONLY_VIEWS]
    columns = []
    for view in views:
        clause = view_clause(view, actor)
        columns.append(_capped_count(base + ([clause] if clause is not None else [])).label(view))
    return dict(zip(views, db.session.execute(select(*columns)).one(), strict=True))


def matching_count(filters: QueueFilters, actor: Actor) -> int:
    """How many orders match (capped): for "everything matching" bulk actions."""
    return db.session.scalar(select(_capped_count(conditions(replace(filters, after=""), actor))))


def new_since(filters: QueueFilters, actor: Actor, since_id: int) -> int:
    """Orders placed after the newest one on screen that match the filters (capped at NEW_CAP + 1)."""
    where = conditions(replace(filters, after=""), actor) + [Order.id > since_id]
    return db.session.scalar(select(_capped_count(where, NEW_CAP)))


def rows_since(filters: QueueFilters, actor: Actor, since_id: int) -> QueuePage:
    """The new orders themselves, newest first, to insert above the list."""
    where = conditions(replace(filters, after=""), actor) + [Order.id > since_id]
    ids = list(db.session.scalars(select(Order.id).where(*where).order_by(Order.id.desc()).limit(NEW_CAP + 1)))
    return QueuePage(_rows_for_ids(ids, actor), None, max(ids, default=since_id))


def _rows_for_ids(ids: list[int], actor: Actor) -> list[QueueRow]:
    if not ids:
        return []
    # Only orders the actor may see, whatever ids were asked for (ticked boxes are user input).
    stmt = _row_select().where(Order.id.in_(ids), *conditions(QueueFilters(), actor)).order_by(Order.id.desc())
    rows = [QueueRow(*values) for values in db.session.execute(stmt)]
    _add_details(rows, actor)
    return rows


def order_by_number(number: str, actor: Actor) -> int | None:
    """The id of the order with exactly this number, if the actor may see it (search jumps straight there)."""
    candidate = number.strip().upper()
    if not candidate or " " in candidate:
        return None
    where = [Order.number == candidate]
    if (scope := store_scope(actor)) is not None:
        where.append(holds_store_lines(scope))
    return db.session.scalar(select(Order.id).where(*where))


def matching_order_ids(filters: QueueFilters, actor: Actor, limit: int = 5000) -> list[int]:
    """Ids of every order matching the filters (up to limit), for bulk actions and exports."""
    where = conditions(replace(filters, after=""), actor)
    return list(db.session.scalars(_ordered(select(Order.id).where(*where), visible_sort(filters, actor))
                                   .limit(limit)))


def queue_rows(ids: list[int], actor: Actor) -> list[QueueRow]:
    """Rows for specific orders (after an action re-renders them), in the order given."""
    found = {row.id: row for row in _rows_for_ids(ids, actor)}
    return [found[i] for i in ids if i in found]


def assignee_options() -> list:
    """(id, label) of every active staff member and admin, by label: the queue's assignee dropdowns."""
    from covet.accounts.models import User

    label = func.coalesce(func.nullif(User.name, ""), User.email)
    return list(db.session.execute(select(User.id, label.label("label"))
                                   .where(User.active.is_(True), User.role.in_(("admin", "staff")))
                                   .order_by(func.lower(label), User.id)))
