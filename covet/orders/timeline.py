"""One timeline of everything that happened to an order, newest first.

Sources: the order row itself, Stripe events linked to it, emails about it, the audit log, notes, shipments
and refunds. Each source is one bounded statement (or rows the detail page loaded already); a merchant's
timeline holds only their store's part (no payment events, no customer emails, their store's audit entries).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from covet.accounts.models import User
from covet.audit.models import AuditLog
from covet.extensions import db
from covet.money import format_money
from covet.notifications.models import EmailOutbox
from covet.orders.carriers import carrier_label
from covet.orders.models import Order
from covet.webhooks.models import StripeEvent

LIMIT = 200
ACTIONS = {
    "order.assigned": "Assigned", "order.unassigned": "Unassigned", "order.fulfilled": "Shipped",
    "order.refunded": "Refunded", "order.cancelled": "Cancelled", "order.note_added": "Note added",
    "order.tagged": "Tags changed", "order.restocked": "Put back in stock", "order.refund_failed": "Refund failed",
    "order.dispute_evidence_prepared": "Dispute evidence prepared",
    "order.dispute_evidence_saved": "Dispute draft saved",
    "order.dispute_submitted": "Dispute evidence submitted", "order.dispute_accepted": "Dispute accepted",
    "order.dispute_assigned": "Dispute assigned", "order.dispute_file_added": "Dispute file added",
    "order.dispute_note_added": "Dispute note added",
}
# Actions whose own rows (notes, shipments, refunds) already stand in the timeline with more detail.
SHOWN_BY_ROWS = {"order.note_added", "order.fulfilled", "order.refunded"}
EMAILS = {"order_confirmation": "Order confirmation", "shipping_notification": "Shipping notification",
          "dispute_opened": "Dispute opened", "dispute_closed": "Dispute decided", "order_cancelled": "Cancellation"}
LEVELS = {"processed": "ok", "sent": "ok", "succeeded": "ok", "failed": "bad", "pending": "warn",
          "sending": "warn", "ignored": "", "cancelled": ""}


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    kind: str  # order, webhook, email, audit, note, fulfilment, refund
    title: str
    detail: str = ""
    actor: str | None = None
    status: str | None = None
    link: str | None = None  # an endpoint name + id, resolved by the template: ("webhook_events.event_detail", 7)
    link_id: int | None = None

    @property
    def level(self) -> str:
        return LEVELS.get(self.status or "", "")


def build(order: Order, store_id: int | None, *, lines=(), notes=(), fulfilments=(), refunds=()) -> list[Entry]:
    """The merged timeline; `lines`, `notes`, `fulfilments` and `refunds` are the detail page's rows, scoped."""
    staff = store_id is None
    entries = order_entries(order, staff)
    if staff:
        entries += webhook_entries(order.id) + email_entries(order.id)
    entries += audit_entries(order, store_id, {str(line.id): line.sku for line in lines})
    entries += [Entry(view.note.created_at, "note", "Note", view.note.body, view.author) for view in notes]
    entries += [_fulfilment_entry(view) for view in fulfilments]
    entries += [_refund_entry(view) for view in refunds]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def order_entries(order: Order, staff: bool) -> list[Entry]:
    total = f"{format_money(order.total_amount, order.currency)}" if staff else ""
    entries = [Entry(order.created_at, "order", "Order placed", total)]
    if order.paid_at:
        entries.append(Entry(order.paid_at, "order", "Paid", total, status="succeeded"))
    if order.cancelled_at:
        entries.append(Entry(order.cancelled_at, "order", "Cancelled", status="cancelled"))
    if order.closed_at:
        entries.append(Entry(order.closed_at, "order", "Closed"))
    return entries


def webhook_entries(order_id: int) -> list[Entry]:
    """Stripe events linked to the order (not their payloads: a few KB each)."""
    rows = db.session.execute(
        select(StripeEvent.id, StripeEvent.type, StripeEvent.status, StripeEvent.received_at, StripeEvent.attempts)
        .where(StripeEvent.order_id == order_id)
        .order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc()).limit(LIMIT))
    return [Entry(row.received_at, "webhook", row.type,
                  f"{row.attempts} attempts" if row.attempts > 1 else "",
                  "Stripe", row.status, "webhook_events.event_detail", row.id) for row in rows]


def email_entries(order_id: int) -> list[Entry]:
    rows = db.session.execute(
        select(EmailOutbox.template, EmailOutbox.recipient, EmailOutbox.status, EmailOutbox.created_at,
               EmailOutbox.sent_at)
        .where(EmailOutbox.order_id == order_id)
        .order_by(EmailOutbox.created_at.desc(), EmailOutbox.id.desc()).limit(LIMIT))
    return [Entry(row.sent_at or row.created_at, "email", f"Email: {EMAILS.get(row.template, row.template)}",
                  f"to {row.recipient}", None, row.status) for row in rows]


def audit_entries(order: Order, store_id: int | None, skus: dict[str, str] | None = None) -> list[Entry]:
    stmt = (select(AuditLog.action, AuditLog.actor_email, AuditLog.before, AuditLog.after, AuditLog.created_at)
            .where(AuditLog.entity_type == "order", AuditLog.entity_id == str(order.id),
                   AuditLog.action.not_in(SHOWN_BY_ROWS))
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(LIMIT))
    if store_id is not None:
        stmt = stmt.where(AuditLog.store_id == store_id)
    rows = db.session.execute(stmt).all()
    names = {"assignee_id": _people({side.get("assignee_id") for row in rows
                                     for side in (row.before or {}, row.after or {})}),
             "lines": skus or {}, "restocked": skus or {}}
    return [Entry(row.created_at, "audit", ACTIONS.get(row.action, row.action),
                  change_summary(row.before, row.after, order.currency, names), row.actor_email)
            for row in rows]


def _people(user_ids: set) -> dict[int, str]:
    """User id → email for the assignees the entries name, in one statement."""
    ids = {user_id for user_id in user_ids if isinstance(user_id, int)}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {user_id: email for user_id, email in rows}


def change_summary(before: dict | None, after: dict | None, currency: str, names: dict | None = None) -> str:
    """'state: open → cancelled; amount: €50.00' from an audit entry's before/after (at most 300 characters).

    `names` turns ids into words per key: {"assignee_id": {3: "ana@…"}, "lines": {"12": "SKU-1"}}."""
    before, after = before or {}, after or {}
    parts = []
    for key in sorted(set(before) | set(after)):
        old, new = (_shown(key, side.get(key), currency, (names or {}).get(key, {})) for side in (before, after))
        label = key.removesuffix("_id").replace("_", " ")
        if key == "via":  # how it happened ("take_next"), not a value that changed
            parts.append(f"via {new.replace('_', ' ')}")
        else:
            parts.append(f"{label}: {old} → {new}" if key in before else f"{label}: {new}")
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:299] + "…"


def _shown(key: str, value, currency: str, names: dict) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if key == "assignee_id":
        return names.get(value, f"user {value}")
    if key.endswith("amount") and isinstance(value, int):
        return format_money(value, currency)
    if isinstance(value, dict):  # {"<line id>": units}
        return ", ".join(f"{names.get(k, k)} × {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _fulfilment_entry(view) -> Entry:
    fulfilment = view.fulfilment
    carrier = " ".join(filter(None, (carrier_label(fulfilment.carrier), fulfilment.tracking_number)))
    items = ", ".join(f"{item.line.sku if item.line else 'line'} × {item.quantity}" for item in view.lines)
    store = view.store.name if view.store else ""
    return Entry(fulfilment.shipped_at, "fulfilment", f"Shipped{' by ' + store if store else ''}",
                 f"{carrier} · {items}" if items else carrier, view.created_by)


def _refund_entry(view) -> Entry:
    refund = view.refund
    return Entry(refund.created_at, "refund", f"Refund {format_money(refund.amount, refund.currency)}",
                 refund.reason or "", view.created_by, refund.status)
