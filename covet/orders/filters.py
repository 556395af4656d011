"""The order queue's filters: parsed from the URL (or a saved preset) into a dataclass, then into WHERE clauses.

Each clause is one an index serves (see Order.__table_args__ and ix_order_lines_*): no DISTINCT over joined
name columns, no OR across tables.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

from sqlalchemy import and_, func, select, text, union

from covet.audit.services import Actor
from covet.money import parse_money
from covet.orders.access import holds_store_lines, store_scope
from covet.orders.models import (
    FULFILMENT_STATUSES,
    ORDER_STATES,
    PAYMENT_STATUSES,
    TAKE_NEXT_WHERE,
    TO_FULFIL_WHERE,
    UNPAID_OPEN_WHERE,
    Order,
    OrderLine,
    OrderTag,
)
from covet.web.params import parse_id, parse_int_or_none

PAGE_SIZES = (25, 50, 100)
COUNT_CAP = 1000  # tab counts stop at "1,000+": cheap at any table size, still tells staff "a lot"
NEW_CAP = 99
SORTS = {"newest": "Newest first", "oldest": "Oldest first", "amount_desc": "Amount, high to low",
         "amount_asc": "Amount, low to high"}
# Tabs: a name, a label and the WHERE that defines them (merchants do not get the assignment tabs).
VIEWS = {"all": "All", "to_fulfil": "To fulfil", "unassigned": "Unassigned", "mine": "Mine", "unpaid": "Unpaid",
         "cancelled": "Cancelled"}
STAFF_ONLY_VIEWS = ("unassigned", "mine")


@dataclass
class QueueFilters:
    view: str = "all"
    state: str = ""
    payment: str = ""
    fulfilment: str = ""
    store_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    min_amount: int | None = None  # minor units
    max_amount: int | None = None
    tag: str = ""
    assignee: str = ""  # "" | mine | unassigned | <user id>
    q: str = ""
    sort: str = "newest"
    after: str = ""
    per: int = 50
    errors: dict = field(default_factory=dict)

    def as_query(self, **changes) -> dict:
        """The filters as URL parameters (for links, hx-push-url and saved presets)."""
        values = {"view": "" if self.view == "all" else self.view, "state": self.state, "payment": self.payment,
                  "fulfilment": self.fulfilment, "store": self.store_id or "",
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else "",
                  "min": _major(self.min_amount), "max": _major(self.max_amount), "tag": self.tag,
                  "assignee": self.assignee, "q": self.q, "sort": "" if self.sort == "newest" else self.sort,
                  "per": "" if self.per == 50 else self.per, "after": self.after, **changes}
        return {k: v for k, v in values.items() if v not in ("", None)}

    def query_string(self, **changes) -> str:
        return urlencode(self.as_query(**changes))

    @property
    def active(self) -> bool:
        return bool(set(self.as_query()) - {"sort", "per", "after", "view"})


def _major(amount: int | None) -> str:
    if amount is None:
        return ""
    major, minor = divmod(amount, 100)
    return f"{major}" if not minor else f"{major}.{minor:02d}"


def _date(text: str, name: str, errors: dict) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or day.year >= 9999:  # the day after 9999-12-31 is past what datetime holds
        errors[name] = "Use a date like 2026-11-30."
        return None
    return day


def _amount(text: str, name: str, errors: dict) -> int | None:
    if not text:
        return None
    try:
        return parse_money(text, "eur")  # filters are in major units of a two-decimal currency
    except ValueError as exc:
        errors[name] = str(exc)
        return None


def _choice(value: str, allowed) -> str:
    return value if value in allowed else ""


def parse_filters(args) -> QueueFilters:
    """Filters from request args (a MultiDict or a dict of str): unknown values are dropped, bad ones reported."""
    def get(key: str) -> str:
        return (args.get(key) or "").strip()

    errors: dict = {}
    store, assignee, per = get("store"), get("assignee"), get("per")
    filters = QueueFilters(
        view=_choice(get("view"), VIEWS) or "all", state=_choice(get("state"), ORDER_STATES),
        payment=_choice(get("payment"), PAYMENT_STATUSES), fulfilment=_choice(get("fulfilment"), FULFILMENT_STATUSES),
        store_id=parse_id(store),
        date_from=_date(get("from"), "from", errors), date_to=_date(get("to"), "to", errors),
        min_amount=_amount(get("min"), "min", errors), max_amount=_amount(get("max"), "max", errors),
        tag=get("tag").lower()[:40], q=get("q")[:100],
        assignee=assignee if assignee in ("mine", "unassigned") or parse_id(assignee) else "",
        sort=_choice(get("sort"), SORTS) or "newest", after=get("after")[:300],
        per=parse_int_or_none(per) if parse_int_or_none(per) in PAGE_SIZES else 50)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["to"] = "The end date is before the start date."
    filters.errors = errors
    return filters


def visible_sort(filters: QueueFilters, actor: Actor) -> str:
    """The sort to use: a merchant cannot order by whole-order totals (other stores' share is not theirs)."""
    if store_scope(actor) is not None and filters.sort.startswith("amount"):
        return "newest"
    return filters.sort


def filters_from_query(query_string: str) -> QueueFilters:
    """Filters from a saved query string (presets, bulk "everything matching", exports)."""
    return parse_filters({k: v[0] for k, v in parse_qs(query_string or "").items()})


# --- the WHERE clause -------------------------------------------------------------------------------------

def view_clause(view: str, actor: Actor):
    if view == "to_fulfil":
        return text(TO_FULFIL_WHERE)  # literal SQL: the predicate of ix_orders_to_fulfil, provable in any plan
    if view == "unassigned":
        return text(TAKE_NEXT_WHERE)  # matches ix_orders_take_next's predicate: read from the partial index
    if view == "mine":
        return and_(Order.assignee_id == (actor.user_id or -1), Order.state == "open")
    if view == "unpaid":
        return text(UNPAID_OPEN_WHERE)
    if view == "cancelled":
        return Order.state == "cancelled"
    return None


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_clause(q: str, store_id: int | None = None):
    """Customer email prefix (an '@' means email only) or SKU prefix, each from its own index.

    A UNION of ids, not an OR across tables: the planner semi-joins a handful of ids instead of testing
    every order of the table against both."""
    by_email = select(Order.id).where(func.lower(Order.email).like(_like_prefix(q.lower()), escape="\\"))
    if "@" in q:
        return Order.id.in_(by_email)
    skus = {q, q.upper()}
    by_sku = [select(OrderLine.order_id).where(OrderLine.sku.like(_like_prefix(s), escape="\\"),
                                               *([OrderLine.store_id == store_id] if store_id is not None else []))
              for s in skus]
    return Order.id.in_(union(by_email, *by_sku))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def conditions(filters: QueueFilters, actor: Actor) -> list:
    """Every WHERE condition the filters (and the actor's store scope) ask for."""
    where = []
    store_id = store_scope(actor)  # a merchant's own store, whatever the filter says
    if store_id is None:
        store_id = filters.store_id
    if store_id is not None:
        where.append(holds_store_lines(store_id))
    if (view := view_clause(filters.view, actor)) is not None:
        where.append(view)
    for column, value in ((Order.state, filters.state), (Order.payment_status, filters.payment),
                          (Order.fulfilment_status, filters.fulfilment)):
        if value:
            where.append(column == value)
    if filters.date_from:
        where.append(Order.created_at >= _day_start(filters.date_from))
    if filters.date_to:
        where.append(Order.created_at < _day_start(filters.date_to + dt.timedelta(days=1)))
    # Amounts are whole-order totals: staff only (a merchant would learn other stores' share by trying).
    if filters.min_amount is not None and store_scope(actor) is None:
        where.append(Order.total_amount >= filters.min_amount)
    if filters.max_amount is not None and store_scope(actor) is None:
        where.append(Order.total_amount <= filters.max_amount)
    if filters.tag and store_scope(actor) is None:  # tags are staff's own notes ("fraud-review"): not for merchants
        where.append(Order.id.in_(select(OrderTag.order_id).where(OrderTag.tag == filters.tag)))
    if filters.assignee == "mine":
        where.append(Order.assignee_id == (actor.user_id or -1))
    elif filters.assignee == "unassigned":
        where.append(Order.assignee_id.is_(None))
    elif filters.assignee:
        where.append(Order.assignee_id == parse_id(filters.assignee))
    if filters.q:
        where.append(search_clause(filters.q, store_scope(actor)))
    return where


