"""Read-only selects for the dispute list: filters from the URL, capped tab counts, keyset pages.

The list is ordered by evidence deadline, soonest first (no deadline last), then id: the keyset cursor is that
pair, served by ix_disputes_due_id. Counts stop at COUNT_CAP ("999+"), as in the order queue.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, literal, or_, select

from covet.accounts.models import User
from covet.audit.services import Actor
from covet.disputes.models import DISPUTE_STATUSES, NEEDS_RESPONSE, UNDER_REVIEW, Dispute
from covet.disputes.reasons import REASON_LABELS
from covet.extensions import db
from covet.orders.access import store_scope
from covet.orders.models import Order, OrderLine
from covet.stores.models import Store
from covet.web.cursors import cursor_datetime, decode_pair
from covet.web.params import parse_id

COUNT_CAP = 999
PAGE_SIZE = 50
TABS = {"needs_response": "Needs response", "under_review": "Under review", "won": "Won", "lost": "Lost",
        "all": "All"}
TAB_STATUSES = {"needs_response": NEEDS_RESPONSE, "under_review": UNDER_REVIEW, "won": ("won",),
                "lost": ("lost",), "all": None}


@dataclass
class DisputeFilters:
    tab: str = "needs_response"
    status: str = ""
    reason: str = ""
    store_id: int | None = None
    due_before: dt.date | None = None
    assignee: str = ""  # "", "mine", "unassigned" or a user id
    after: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.status or self.reason or self.store_id or self.due_before or self.assignee)

    def as_query(self, **overrides) -> dict[str, str]:
        """The filters as URL parameters, empty ones left out (overrides win)."""
        values = {"tab": self.tab if self.tab != "needs_response" else "", "status": self.status,
                  "reason": self.reason, "store": str(self.store_id or ""),
                  "due_before": self.due_before.isoformat() if self.due_before else "",
                  "assignee": self.assignee, "after": self.after} | overrides
        return {key: value for key, value in values.items() if value}


def parse_filters(args: Mapping[str, str], user_id: int | None = None) -> DisputeFilters:
    """Filters from a query string; what cannot be read is reported in `errors`, never a 500."""
    filters, errors = DisputeFilters(), {}
    tab = args.get("tab", "") or "needs_response"
    filters.tab = tab if tab in TABS else "needs_response"
    if tab not in TABS:
        errors["tab"] = "Choose one of the tabs."
    status = args.get("status", "")
    if status and status not in DISPUTE_STATUSES:
        errors["status"] = "Unknown status."
    filters.status = status if status in DISPUTE_STATUSES else ""
    reason = args.get("reason", "")
    if reason and reason not in REASON_LABELS:
        errors["reason"] = "Unknown reason."
    filters.reason = reason if reason in REASON_LABELS else ""
    store = args.get("store", "")
    if store:
        if parse_id(store) is not None:
            filters.store_id = parse_id(store)
        else:
            errors["store"] = "Choose a store from the list."
    due = args.get("due_before", "")
    if due:
        try:
            filters.due_before = dt.date.fromisoformat(due)
            if filters.due_before.year >= 9999:  # the day after is past what datetime holds
                filters.due_before = None
                raise ValueError(due)
        except ValueError:
            errors["due_before"] = "Enter a date as YYYY-MM-DD."
    assignee = args.get("assignee", "")
    if assignee in ("", "mine", "unassigned") or parse_id(assignee) is not None:
        filters.assignee = assignee
    else:
        errors["assignee"] = "Choose someone from the list."
    filters.after = args.get("after", "")[:200]
    filters.errors = errors
    return filters


def _visible(stmt, actor: Actor):
    """Staff see every dispute; a merchant those on orders holding their lines."""
    store_id = store_scope(actor)
    if store_id is None:
        return stmt
    return stmt.where(exists().where(OrderLine.order_id == Dispute.order_id, OrderLine.store_id == store_id))


def _conditions(filters: DisputeFilters, actor: Actor, tab: str | None = None) -> list:
    """WHERE clauses for the filters, on the given tab (default: the filters' own)."""
    clauses = []
    statuses = TAB_STATUSES[tab or filters.tab]
    if statuses:
        clauses.append(Dispute.status.in_(statuses))
    if filters.status:
        clauses.append(Dispute.status == filters.status)
    if filters.reason:
        clauses.append(Dispute.reason == filters.reason)
    if filters.store_id:
        clauses.append(exists().where(OrderLine.order_id == Dispute.order_id, OrderLine.store_id == filters.store_id))
    if filters.due_before:
        end = dt.datetime.combine(filters.due_before, dt.time(), dt.UTC) + dt.timedelta(days=1)
        clauses.append(Dispute.evidence_due_by < end)
    if filters.assignee == "mine":
        clauses.append(Dispute.assignee_id == (actor.user_id or -1))
    elif filters.assignee == "unassigned":
        clauses.append(Dispute.assignee_id.is_(None))
    elif filters.assignee:
        clauses.append(Dispute.assignee_id == int(filters.assignee))
    return clauses


# --- pages ------------------------------------------------------------------------------------------------

@dataclass
class DisputeRow:
    id: int
    stripe_dispute_id: str
    order_id: int | None
    order_number: str | None
    amount: int
    currency: str
    reason: str
    status: str
    evidence_due_by: dt.datetime | None
    has_evidence: bool
    past_due: bool
    submitted_at: dt.datetime | None
    assignee: str | None
    stores: list[str] = field(default_factory=list)

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason.replace("_", " ").capitalize())

    @property
    def unanswered_past_due(self) -> bool:
        """Flagged: the deadline passed and nothing was submitted."""
        late = self.past_due or (self.evidence_due_by is not None and self.evidence_due_by <= dt.datetime.now(dt.UTC))
        return late and self.status in NEEDS_RESPONSE and self.submitted_at is None


@dataclass
class DisputePage:
    rows: list[DisputeRow]
    next_after: str | None


def _encode(due: dt.datetime | None, dispute_id: int) -> str:
    raw = json.dumps([due.isoformat() if due else None, dispute_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime | None, int] | None:
    pair = decode_pair(cursor)
    if pair is None:
        return None
    due = cursor_datetime(pair[0]) if pair[0] is not None else None
    return None if pair[0] is not None and due is None else (due, pair[1])


def _after(cursor: tuple[dt.datetime | None, int]):
    """Rows after (due, id) in the order 'due ascending, no deadline last, then id'."""
    due, dispute_id = cursor
    if due is None:
        return and_(Dispute.evidence_due_by.is_(None), Dispute.id > dispute_id)
    return or_(Dispute.evidence_due_by > due, and_(Dispute.evidence_due_by == due, Dispute.id > dispute_id),
               Dispute.evidence_due_by.is_(None))


def dispute_page(filters: DisputeFilters, actor: Actor, per: int = PAGE_SIZE) -> DisputePage:
    """One keyset page: two statements (the rows, then their stores) whatever the page size."""
    assignee = func.coalesce(func.nullif(User.name, ""), User.email)
    stmt = (select(Dispute.id, Dispute.stripe_dispute_id, Dispute.order_id, Order.number, Dispute.amount,
                   Dispute.currency, Dispute.reason, Dispute.status, Dispute.evidence_due_by, Dispute.has_evidence,
                   Dispute.past_due, Dispute.submitted_at, assignee)
            .outerjoin(Order, Order.id == Dispute.order_id).outerjoin(User, User.id == Dispute.assignee_id)
            .where(*_conditions(filters, actor))
            .order_by(Dispute.evidence_due_by.asc().nulls_last(), Dispute.id).limit(per + 1))
    cursor = _decode(filters.after) if filters.after else None
    if cursor is not None:
        stmt = stmt.where(_after(cursor))
    rows = [DisputeRow(*values) for values in db.session.execute(_visible(stmt, actor))]
    more = len(rows) > per
    rows = rows[:per]
    _add_stores(rows, actor)
    last = rows[-1] if rows else None
    return DisputePage(rows, _encode(last.evidence_due_by, last.id) if more and last else None)


def _add_stores(rows: list[DisputeRow], actor: Actor) -> None:
    order_ids = {row.order_id for row in rows if row.order_id}
    if not order_ids:
        return
    names: dict[int, list[str]] = {}
    for order_id, name in db.session.execute(select(OrderLine.order_id, Store.name).distinct()
                                             .join(Store, Store.id == OrderLine.store_id)
                                             .where(OrderLine.order_id.in_(order_ids)).order_by(Store.name)):
        names.setdefault(order_id, []).append(name)
    for row in rows:
        row.stores = names.get(row.order_id, [])


def _capped(filters: DisputeFilters, actor: Actor, tab: str):
    ids = _visible(select(literal(1)).select_from(Dispute).where(*_conditions(filters, actor, tab)), actor)
    return select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery()).scalar_subquery()


def tab_counts(filters: DisputeFilters, actor: Actor) -> dict[str, int]:
    """Each tab's count under the other filters, capped at COUNT_CAP + 1, in one statement."""
    counts = db.session.execute(select(*(_capped(filters, actor, tab).label(tab) for tab in TABS))).one()
    return dict(zip(TABS, counts, strict=True))


def needs_response_count(actor: Actor) -> int:
    """The nav's figure: open disputes this actor may see, capped."""
    return db.session.scalar(select(_capped(DisputeFilters(), actor, "needs_response")))


def _cache_key(actor: Actor, what: str) -> str:
    from covet.storefront.cache import key

    return key(f"dispute-counts:{store_scope(actor) or 0}:{actor.user_id or 0}:{what}")


def remembered_tab_counts(filters: DisputeFilters, actor: Actor) -> dict[str, int]:
    """tab_counts, remembered for a few seconds per viewer and filters (paging and tab clicks cost no count)."""
    from covet.orders.count_cache import remembered

    query = "&".join(f"{k}={v}" for k, v in sorted(filters.as_query(tab="", after="").items()))
    return remembered(_cache_key(actor, query), lambda: tab_counts(filters, actor))


def store_options(actor: Actor) -> list[tuple[int, str]]:
    if store_scope(actor) is not None:
        return []
    return list(db.session.execute(select(Store.id, Store.name).order_by(Store.name).limit(500)))


def assignee_options() -> list[tuple[int, str]]:
    return list(db.session.execute(select(User.id, func.coalesce(func.nullif(User.name, ""), User.email))
                                   .where(User.active.is_(True), User.role.in_(("admin", "staff")))
                                   .order_by(User.email).limit(200)))


def nav_count() -> int:
    """Open disputes the signed-in user may see: the nav's figure."""
    from covet.orders.count_cache import remembered
    from covet.web.actor import current_actor

    actor = current_actor()
    return remembered(_cache_key(actor, "nav"), lambda: {"n": needs_response_count(actor)})["n"]
