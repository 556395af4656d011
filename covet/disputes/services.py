"""Dispute use cases."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from covet.accounts.models import User
from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.extensions import db
from covet.jobs import enqueue
from covet.notifications.services import queue_email
from covet.orders.models import OrderLine

OPEN_STATUSES = ("needs_response", "warning_needs_response")
# Remind when the deadline is this close; each window sends once per dispute and recipient.
REMINDER_WINDOWS = (("72h", dt.timedelta(hours=72)), ("24h", dt.timedelta(hours=24)))


def dispute_recipients(dispute: Dispute) -> list[str]:
    """Staff and admins, plus the merchants and support address of every store in the order."""
    staff = db.session.scalars(select(User.email).where(User.active.is_(True), User.role.in_(("admin", "staff"))))
    emails = set(staff)
    if dispute.order_id:
        from covet.stores.services import store_contacts

        emails |= store_contacts(select(OrderLine.store_id).where(OrderLine.order_id == dispute.order_id))
    return sorted(emails)


def dispute_email_context(dispute: Dispute, reminder: bool) -> dict:
    return {"order_number": dispute.order.number if dispute.order else dispute.charge_id,
            "amount": dispute.amount, "currency": dispute.currency, "reason": dispute.reason,
            "evidence_due_by": dispute.evidence_due_by.isoformat() if dispute.evidence_due_by else "",
            "dispute_url": f"/admin/disputes/{dispute.id}", "reminder": reminder}


def send_deadline_reminders(now: dt.datetime | None = None) -> int:
    """Queue reminder emails for open disputes whose evidence is due within a reminder window."""
    now = now or utcnow()
    widest = max(window for _, window in REMINDER_WINDOWS)
    disputes = db.session.scalars(select(Dispute).where(Dispute.status.in_(OPEN_STATUSES),
                                                        Dispute.evidence_due_by > now,
                                                        Dispute.evidence_due_by <= now + widest))
    queued = 0
    for dispute in disputes:
        label = min((w for w in REMINDER_WINDOWS if dispute.evidence_due_by <= now + w[1]), key=lambda w: w[1])[0]
        context = dispute_email_context(dispute, reminder=True)
        for email in dispute_recipients(dispute):
            queue_email("dispute_opened", email, context, f"dispute-reminder:{dispute.id}:{label}:{email}",
                        order_id=dispute.order_id)
            queued += 1
    db.session.commit()
    return queued


# Where a dispute can be: later states outrank earlier ones when two events share a timestamp.
STATUS_RANK = {"warning_needs_response": 0, "needs_response": 0, "warning_under_review": 1, "under_review": 1,
               "warning_closed": 2, "won": 2, "lost": 2, "prevented": 2}


def _due_by(dispute: dict) -> dt.datetime | None:
    due = (dispute.get("evidence_details") or {}).get("due_by")
    return dt.datetime.fromtimestamp(due, dt.UTC) if due else None


def _network_code(obj: dict) -> str | None:
    card = ((obj.get("payment_method_details") or {}).get("card") or {})
    return obj.get("network_reason_code") or card.get("network_reason_code")


def _fee(obj: dict) -> int | None:
    """Stripe's dispute fee: the fees of the dispute's balance transactions (a reinstatement refunds none)."""
    transactions = [bt for bt in obj.get("balance_transactions") or [] if isinstance(bt, dict)]
    fees = [bt.get("fee", 0) for bt in transactions if bt.get("fee", 0) > 0]
    return sum(fees) if fees else None


def _apply_fields(dispute: Dispute, obj: dict) -> None:
    details = obj.get("evidence_details") or {}
    dispute.charge_id, dispute.amount = obj.get("charge") or "", obj.get("amount", 0)
    dispute.currency, dispute.reason = obj.get("currency", "usd"), obj.get("reason") or "general"
    dispute.status, dispute.evidence_due_by = obj.get("status", "needs_response"), _due_by(obj)
    dispute.network_reason_code = _network_code(obj) or dispute.network_reason_code
    dispute.has_evidence = bool(details.get("has_evidence", dispute.has_evidence))
    dispute.past_due = bool(details.get("past_due", dispute.past_due))
    dispute.submission_count = int(details.get("submission_count") or dispute.submission_count or 0)
    dispute.fee_amount = _fee(obj) if _fee(obj) is not None else dispute.fee_amount
    dispute.outcome = dispute.status if dispute.status in ("won", "lost") else None


def apply_stripe_dispute(obj: dict, event_created: int) -> Dispute:
    """Create or update a dispute from Stripe; an older payload than we hold makes us fetch the current one."""
    from covet.payments import gateway
    from covet.payments.services import order_for

    seen_at = dt.datetime.fromtimestamp(event_created, dt.UTC)
    dispute = db.session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == obj["id"]))
    if dispute is not None and dispute.stripe_updated_at is not None and \
            (seen_at, STATUS_RANK.get(obj.get("status"), 0)) < (dispute.stripe_updated_at,
                                                                 STATUS_RANK.get(dispute.status, 0)):
        obj, seen_at = gateway.call(f"/v1/disputes/{obj['id']}"), dispute.stripe_updated_at
    new = dispute is None
    if new:
        dispute = Dispute(stripe_dispute_id=obj["id"])
    linked = False
    if dispute.order_id is None:
        order = order_for({"charge": obj.get("charge"), "payment_intent": obj.get("payment_intent")})
        dispute.order_id, linked = (order.id, True) if order else (None, False)
    _apply_fields(dispute, obj)
    db.session.add(dispute)
    dispute.stripe_updated_at = max(seen_at, dispute.stripe_updated_at or seen_at)
    db.session.flush()
    if new or linked:  # linked later: the stores learn of it now (the keys keep staff's email single)
        announce_opened(dispute)
    if dispute.outcome:
        announce_outcome(dispute)
    db.session.commit()
    return dispute


def announce_opened(dispute: Dispute) -> None:
    """Email staff and the order's stores that a dispute was opened (once per dispute and person)."""
    context = dispute_email_context(dispute, reminder=False)
    for email in dispute_recipients(dispute):
        queue_email("dispute_opened", email, context, f"dispute-opened:{dispute.stripe_dispute_id}:{email}",
                    order_id=dispute.order_id)


def link_waiting_disputes(order_id: int, charge_id: str) -> list[Dispute]:
    """Disputes that arrived before their payment was known are linked to its order when the charge is
    learnt (in the caller's transaction); the stores' emails go out now, staff's were sent already."""
    waiting = db.session.scalars(select(Dispute).where(Dispute.order_id.is_(None), Dispute.charge_id == charge_id)
                                 .with_for_update()).all()
    from covet.disputes.liability import settle_linked_dispute

    for dispute in waiting:
        dispute.order_id = order_id
        db.session.flush()
        db.session.refresh(dispute, ["order"])
        announce_opened(dispute)
        if dispute.outcome:
            announce_outcome(dispute)
        enqueue(settle_linked_dispute, dispute.id)
    return list(waiting)


def announce_outcome(dispute: Dispute) -> int:
    """Email staff and the order's stores that the dispute was won or lost (once per outcome and person)."""
    context = {"order_number": dispute.order.number if dispute.order else dispute.charge_id,
               "amount": dispute.amount, "currency": dispute.currency, "reason": dispute.reason,
               "outcome": dispute.outcome, "dispute_url": f"/admin/disputes/{dispute.id}"}
    recipients = dispute_recipients(dispute)
    for email in recipients:
        queue_email("dispute_closed", email, context, f"dispute-closed:{dispute.stripe_dispute_id}:{email}",
                    order_id=dispute.order_id)
    return len(recipients)
