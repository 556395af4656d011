"""Read-only selects for the catalogue screens: the product list (keyset pages) and the editor's rows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import exists, func, or_, select, tuple_

from covet.catalog.models import InventoryAdjustment, Product, Variant, variant_option_values
from covet.extensions import db
from covet.stores.models import Store
from covet.web.cursors import cursor_datetime, cursor_text, decode_pair, encode_pair

LOW_STOCK = 5
PAGE_SIZE = 25
SORTS = {"updated": "Recently updated", "title": "Title A–Z", "created": "Newest"}


@dataclass
class ProductFilters:
    q: str = ""
    status: str = ""
    store_id: int | None = None
    stock: str = ""  # "" | low | out
    sort: str = "updated"
    after: str = ""

    def as_query(self, **changes) -> dict:
        values = {"q": self.q, "status": self.status, "store": self.store_id or "", "stock": self.stock,
                  "sort": self.sort, "after": self.after, **changes}
        return {k: v for k, v in values.items() if v not in ("", None)}


@dataclass
class ProductRow:
    id: int
    title: str
    brand: str | None
    status: str
    store_name: str
    currency: str
    variants: int
    stock: int
    min_price: int | None
    max_price: int | None
    updated_at: dt.datetime


@dataclass
class Page:
    rows: list[ProductRow] = field(default_factory=list)
    next_after: str | None = None


def _sort_columns(sort: str):
    if sort == "title":
        return [(Product.title, "asc"), (Product.id, "asc")]
    if sort == "created":
        return [(Product.created_at, "desc"), (Product.id, "desc")]
    return [(Product.updated_at, "desc"), (Product.id, "desc")]


def _after(columns, cursor: str):
    """WHERE (a, b) < (x, y) for a descending keyset (or > ascending): no OFFSET, stable under inserts."""
    pair = decode_pair(cursor)
    if pair is None:
        return None
    dated = columns[0][0].key in ("updated_at", "created_at")
    value = cursor_datetime(pair[0]) if dated else cursor_text(pair[0])
    if value is None:
        return None
    keys = tuple_(*(c for c, _ in columns))
    return keys < (value, pair[1]) if columns[0][1] == "desc" else keys > (value, pair[1])


def product_page(filters: ProductFilters, store_scope: int | None) -> Page:
    """One page of products; `store_scope` limits a merchant to their store."""
    totals = (select(Variant.product_id, func.count().label("n"), func.sum(Variant.stock_on_hand).label("stock"),
                     func.min(Variant.price_amount).label("lo"), func.max(Variant.price_amount).label("hi"))
              .group_by(Variant.product_id).subquery())
    stock = func.coalesce(totals.c.stock, 0)
    stmt = (select(Product, Store.name, Store.currency, func.coalesce(totals.c.n, 0), stock, totals.c.lo,
                   totals.c.hi)
            .join(Store, Store.id == Product.store_id).outerjoin(totals, totals.c.product_id == Product.id))
    store_id = store_scope or filters.store_id
    if store_id:
        stmt = stmt.where(Product.store_id == store_id)
    if filters.status:
        stmt = stmt.where(Product.status == filters.status)
    if filters.stock == "out":
        stmt = stmt.where(stock == 0)
    elif filters.stock == "low":
        stmt = stmt.where(stock.between(1, LOW_STOCK))
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        sku_match = exists().where(Variant.product_id == Product.id,
                                   func.lower(Variant.sku).like(f"{filters.q.lower()}%"))
        stmt = stmt.where(or_(func.lower(Product.title).like(pattern), func.lower(Product.brand).like(pattern),
                              sku_match))
    columns = _sort_columns(filters.sort)
    if filters.after and (condition := _after(columns, filters.after)) is not None:
        stmt = stmt.where(condition)
    stmt = stmt.order_by(*(c.desc() if d == "desc" else c.asc() for c, d in columns)).limit(PAGE_SIZE + 1)
    rows = [ProductRow(p.id, p.title, p.brand, p.status, name, currency, n, total, lo, hi, p.updated_at)
            for p, name, currency, n, total, lo, hi in db.session.execute(stmt)]
    page = Page(rows[:PAGE_SIZE])
    if len(rows) > PAGE_SIZE:
        last = db.session.get(Product, page.rows[-1].id)
        page.next_after = encode_pair(getattr(last, columns[0][0].key), last.id)
    return page


@dataclass
class VariantRow:
    variant: Variant
    title: str


def editor_rows(product: Product) -> list[VariantRow]:
    """Every variant of a product with its title, in three queries whatever the count (2,048 rows)."""
    order = {v.id: (o.position, v.position, v.value) for o in product.options for v in o.values}
    variants = db.session.scalars(select(Variant).where(Variant.product_id == product.id)
                                  .order_by(Variant.position, Variant.id)).all()
    links: dict[int, list[int]] = {}
    for variant_id, value_id in db.session.execute(
            select(variant_option_values.c.variant_id, variant_option_values.c.option_value_id)
            .join(Variant, Variant.id == variant_option_values.c.variant_id)
            .where(Variant.product_id == product.id)):
        links.setdefault(variant_id, []).append(value_id)
    rows = []
    for variant in variants:
        values = sorted(order[v] for v in links.get(variant.id, []) if v in order)
        rows.append(VariantRow(variant, " / ".join(value for _, _, value in values) or "Default"))
    return rows


def ledger(variant_id: int, limit: int = 100) -> list[InventoryAdjustment]:
    return list(db.session.scalars(select(InventoryAdjustment).where(InventoryAdjustment.variant_id == variant_id)
                                   .order_by(InventoryAdjustment.created_at.desc(), InventoryAdjustment.id.desc())
                                   .limit(limit)))

