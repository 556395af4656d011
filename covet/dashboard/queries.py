"""Bounded read-only queries for the home dashboard.

Each one reads an index range whose size is set by a time window (today, 30 days) or a cap, never by how many
orders the marketplace has ever had (EXPLAINed at 1 M orders: bench/bench_orders.py --explain).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Date, cast, func, literal, literal_column, select, text

from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.jobs.core import QUEUES
from covet.jobs.models import JobOutbox
from covet.notifications.models import EmailOutbox
from covet.orders.access import holds_store_lines
from covet.orders.models import Order, OrderLine
from covet.redis_client import get_redis
from covet.webhooks.models import StripeEvent

# The predicate of ix_orders_paid_revenue as literal SQL (not bound parameters), so PostgreSQL can prove it
# against the partial index in any plan, generic prepared ones included.
PAID_WHERE = "payment_status IN ('paid', 'partially_refunded')"
COUNT_CAP = 999  # failure and dispute figures read at most this many index entries ("999+")
DISPUTE_STATUSES = ("needs_response", "warning_needs_response")


@dataclass
class DayRevenue:
    day: dt.date
    amount: int


def _utc_day(column):
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _paid_since(start: dt.datetime) -> list:
    return [Order.paid_at >= start, text(PAID_WHERE)]


def _revenue_source(store_id: int | None, start: dt.datetime):
    """(amount expression, from/where) for whole orders paid since `start`, or one store's lines of them."""
    if store_id is None:
        return Order.total_amount - Order.refunded_amount, select().select_from(Order).where(*_paid_since(start))
    # Lines are reached by order id, and no order paid in the window has an id below the window's smallest:
    # the bound turns "every line this store ever sold" into the window's lines. `id + 0` keeps the planner
    # from answering min(id) by walking the primary key from 1; it reads the window from ix_orders_paid_revenue.
    first_id = (select(func.min(Order.id + literal_column("0"))).where(*_paid_since(start))
                .correlate(None).scalar_subquery())
    return (OrderLine.unit_price_amount * OrderLine.quantity,
            select().select_from(Order).join(OrderLine, OrderLine.order_id == Order.id)
            .where(*_paid_since(start), OrderLine.store_id == store_id, OrderLine.order_id >= first_id))


def _today_start() -> dt.datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def today_summary(store_id: int | None) -> dict:
    """Orders placed today and revenue paid today, per currency."""
    start = _today_start()
    count_stmt = select(func.count()).select_from(Order).where(Order.created_at >= start)
    if store_id is not None:
        count_stmt = count_stmt.where(holds_store_lines(store_id))
    amount, base = _revenue_source(store_id, start)
    revenue = db.session.execute(base.add_columns(Order.currency, func.coalesce(func.sum(amount), 0))
                                 .group_by(Order.currency)).all()
    return {"orders": db.session.scalar(count_stmt) or 0, "revenue": {cur: total for cur, total in revenue}}


def revenue_by_day(store_id: int | None, days: int = 30) -> tuple[str | None, list[DayRevenue]]:
    """Paid revenue per UTC day for the last `days` days, in the currency with most revenue."""
    today = utcnow().date()
    start = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    amount, base = _revenue_source(store_id, start)
    day = _utc_day(Order.paid_at)
    rows = db.session.execute(base.add_columns(Order.currency, day.label("day"), func.sum(amount))
                              .group_by(Order.currency, day)).all()
    totals: dict[str, int] = {}
    for currency, _day, total in rows:
        totals[currency] = totals.get(currency, 0) + int(total or 0)
    if not totals:
        return None, []
    currency = max(totals, key=totals.get)
    per_day = {str(d)[:10]: int(t or 0) for c, d, t in rows if c == currency}
    series = [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    return currency, [DayRevenue(d, per_day.get(d.isoformat(), 0)) for d in series]


def _disputes_due(store_id: int | None, within_days: int):
    stmt = select(Dispute).where(Dispute.status.in_(DISPUTE_STATUSES),
                                 Dispute.evidence_due_by <= utcnow() + dt.timedelta(days=within_days))
    if store_id is not None:
        stmt = stmt.where(Dispute.order_id.in_(select(OrderLine.order_id).where(OrderLine.store_id == store_id)))
    return stmt


def disputes_due_soon(store_id: int | None, within_days: int = 7, limit: int = 5) -> list[Dispute]:
    """Open disputes whose evidence is due within the window, soonest first."""
    return list(db.session.scalars(_disputes_due(store_id, within_days).order_by(Dispute.evidence_due_by)
                                   .limit(limit)))


def disputes_due_count(store_id: int | None, within_days: int = 7) -> int:
    """How many open disputes are due within the window (capped at COUNT_CAP + 1)."""
    due = _disputes_due(store_id, within_days).with_only_columns(literal(1)).limit(COUNT_CAP + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(due)) or 0


def recent_orders(store_id: int | None, limit: int = 8) -> list[Order]:
    """The newest orders; for a merchant, the newest holding their lines.

    A merchant's are found from their own lines, newest order id first (ix_order_lines_store_order read
    backwards): walking every order newest first until eight of theirs turn up would read the whole table for
    a store with no recent sales."""
    stmt = select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    if store_id is not None:
        newest = (select(OrderLine.order_id).where(OrderLine.store_id == store_id).distinct()
                  .order_by(OrderLine.order_id.desc()).limit(limit))
        stmt = stmt.where(Order.id.in_(list(db.session.scalars(newest))))
    return list(db.session.scalars(stmt))


def _capped_count(model, *where) -> int:
    capped = select(literal(1)).select_from(model).where(*where).limit(COUNT_CAP + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped)) or 0


def failed_job_count() -> int | None:
    """Jobs that gave up: RQ's failed registries (high, default, low) plus failed outbox rows (embedded mode).

    None when Redis does not answer: the dashboard says so instead of failing."""
    count = _capped_count(JobOutbox, JobOutbox.status == "failed")
    connection = get_redis()
    if connection is None:
        return count
    from redis.exceptions import RedisError
    from rq.registry import FailedJobRegistry

    try:
        pipe = connection.pipeline(transaction=False)
        for name in QUEUES:  # ZCARD only: the registry's own count would first clean up (a write) on every view
            pipe.zcard(FailedJobRegistry(name, connection=connection).key)
        return count + sum(pipe.execute())
    except RedisError:
        return None


def failing_work() -> dict:
    """Failed emails, webhook events and jobs awaiting attention (staff and admins)."""
    return {"emails": _capped_count(EmailOutbox, EmailOutbox.status == "failed"),
            "webhooks": _capped_count(StripeEvent, StripeEvent.status == "failed"),
            "jobs": failed_job_count()}
