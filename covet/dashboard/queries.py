"""Bounded read-only queries for the home dashboard."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Date, cast, func, select

from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders.models import Order, OrderLine
from covet.webhooks.models import StripeEvent

PAID = ("paid", "partially_refunded")


@dataclass
class DayRevenue:
    day: dt.date
    amount: int


def _utc_day(column):
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _revenue_source(store_id: int | None):
    """(amount expression, from/where) for whole orders, or one store's lines of them."""
    if store_id is None:
        return Order.total_amount - Order.refunded_amount, select().select_from(Order)
    return (OrderLine.unit_price_amount * OrderLine.quantity,
            select().select_from(Order).join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.store_id == store_id))


def today_summary(store_id: int | None) -> dict:
    """Orders placed today and revenue paid today, per currency."""
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    count_stmt = select(func.count(func.distinct(Order.id))).where(Order.created_at >= start)
    if store_id is not None:
        count_stmt = count_stmt.join(OrderLine, OrderLine.order_id == Order.id).where(OrderLine.store_id == store_id)
    amount, base = _revenue_source(store_id)
    revenue = db.session.execute(
        base.add_columns(Order.currency, func.coalesce(func.sum(amount), 0))
        .where(Order.paid_at >= start, Order.payment_status.in_(PAID)).group_by(Order.currency)
    ).all()
    return {"orders": db.session.scalar(count_stmt) or 0, "revenue": {cur: total for cur, total in revenue}}


def revenue_by_day(store_id: int | None, days: int = 30) -> tuple[str | None, list[DayRevenue]]:
    """Paid revenue per UTC day for the last `days` days, in the currency with most revenue."""
    today = utcnow().date()
    start = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    amount, base = _revenue_source(store_id)
    day = _utc_day(Order.paid_at)
    rows = db.session.execute(
        base.add_columns(Order.currency, day.label("day"), func.sum(amount))
        .where(Order.paid_at >= start, Order.payment_status.in_(PAID)).group_by(Order.currency, day)
    ).all()
    totals: dict[str, int] = {}
    for currency, _day, total in rows:
        totals[currency] = totals.get(currency, 0) + int(total or 0)
    if not totals:
        return None, []
    currency = max(totals, key=totals.get)
    per_day = {str(d)[:10]: int(t or 0) for c, d, t in rows if c == currency}
    series = [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    return currency, [DayRevenue(d, per_day.get(d.isoformat(), 0)) for d in series]


def disputes_due_soon(store_id: int | None, within_days: int = 7, limit: int = 5) -> list[Dispute]:
    """Open disputes whose evidence is due within the window, soonest first."""
    stmt = (select(Dispute).where(Dispute.status.in_(("needs_response", "warning_needs_response")),
                                  Dispute.evidence_due_by <= utcnow() + dt.timedelta(days=within_days))
            .order_by(Dispute.evidence_due_by).limit(limit))
    if store_id is not None:
        stmt = stmt.where(Dispute.order_id.in_(select(OrderLine.order_id).where(OrderLine.store_id == store_id)))
    return list(db.session.scalars(stmt))


def recent_orders(store_id: int | None, limit: int = 8) -> list[Order]:
    stmt = select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    if store_id is not None:
        stmt = stmt.where(Order.id.in_(select(OrderLine.order_id).where(OrderLine.store_id == store_id)))
    return list(db.session.scalars(stmt))


def failing_work() -> dict:
    """Failed emails and webhook events awaiting attention (staff and admins)."""
    return {
        "emails": db.session.scalar(select(func.count()).select_from(EmailOutbox)
                                    .where(EmailOutbox.status == "failed")) or 0,
        "webhooks": db.session.scalar(select(func.count()).select_from(StripeEvent)
                                      .where(StripeEvent.status == "failed")) or 0,
    }
