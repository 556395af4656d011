"""Read-only selects for the payouts list: keyset pages by (arrival date, id), newest first."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.types import Date

from covet.extensions import db
from covet.payouts.models import Payout
from covet.stores.models import Store
from covet.web.params import parse_id

PAGE_SIZE = 25
# Stripe always sends an arrival date; a payout stored without one sorts first rather than breaking the keyset.
NO_DATE = dt.date(9999, 12, 31)


@dataclass
class PayoutFilters:
    store_id: int | None = None
    after: str = ""

    def as_query(self, **changes) -> dict:
        values = {"store": self.store_id or "", "after": self.after, **changes}
        return {k: v for k, v in values.items() if v not in ("", None)}


@dataclass
class PayoutRow:
    id: int
    store_id: int
    store_name: str
    amount: int
    currency: str
    arrival_date: dt.date | None
    status: str
    stripe_payout_id: str


@dataclass
class Page:
    rows: list[PayoutRow] = field(default_factory=list)
    next_after: str | None = None


def encode_cursor(arrival: dt.date | None, payout_id: int) -> str:
    return f"{(arrival or NO_DATE).isoformat()}.{payout_id}"


def decode_cursor(cursor: str) -> tuple[dt.date, int] | None:
    """'2026-11-20.42' → (date, 42); anything else → None (the first page)."""
    day, _, payout_id = cursor.partition(".")
    try:
        day = dt.date.fromisoformat(day)
    except ValueError:
        return None
    return None if parse_id(payout_id) is None else (day, parse_id(payout_id))


def unscoped(stmt, store_column):
    return stmt


def payout_page(filters: PayoutFilters, scope: Callable = unscoped) -> Page:
    """One page of payouts; `scope(stmt, store_column)` limits it (policy.store_scope for the signed-in user)."""
    arrival = func.coalesce(Payout.arrival_date, literal(NO_DATE, Date()))
    stmt = scope(select(Payout, Store.name).join(Store, Store.id == Payout.store_id), Payout.store_id)
    if filters.store_id:
        stmt = stmt.where(Payout.store_id == filters.store_id)
    if filters.after and (position := decode_cursor(filters.after)):
        stmt = stmt.where(tuple_(arrival, Payout.id) < tuple_(literal(position[0], Date()), literal(position[1])))
    stmt = stmt.order_by(arrival.desc(), Payout.id.desc()).limit(PAGE_SIZE + 1)
    rows = [PayoutRow(p.id, p.store_id, name, p.amount, p.currency, p.arrival_date, p.status, p.stripe_payout_id)
            for p, name in db.session.execute(stmt)]
    page = Page(rows[:PAGE_SIZE])
    if len(rows) > PAGE_SIZE:
        last = page.rows[-1]
        page.next_after = encode_cursor(last.arrival_date, last.id)
    return page
