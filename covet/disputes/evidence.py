"""The evidence packet of a dispute, assembled from what Covet knows about its order, then put in its draft.

`assemble` only reads: the text fields worth filling for the dispute's reason (reasons.fields_for), the PDFs
(receipt, emails to the customer, shipping, store policies) and warnings about what is missing.
`prepare` keeps the PDFs as generated DisputeFiles and merges the text into `evidence_draft` (rule below).

Where things go: prior undisputed orders of the same customer (fraud) are written in `uncategorized_text`,
since Stripe's `access_activity_log` is for activity on digital goods. Covet records no billing address,
so `billing_address` is left for staff (a warning says so).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import exists, func, or_, select

from covet.audit.services import Actor
from covet.disputes import documents
from covet.disputes.documents import format_address, when
from covet.disputes.files import save_generated
from covet.disputes.limits import ALL, FIELD_LIMIT, check_fields, page_warning
from covet.disputes.models import Dispute
from covet.disputes.reasons import EVIDENCE_FIELDS, fields_for, reason_label
from covet.errors import ValidationError
from covet.extensions import db
from covet.jobs import enqueue
from covet.money import format_money
from covet.notifications.models import EmailOutbox
from covet.orders.carriers import carrier_label
from covet.orders.models import Order
from covet.payments.models import Payment, Refund

PRIOR_ORDERS = 20  # listed in fraud evidence; more adds length, not weight
DUPLICATE_WINDOW = dt.timedelta(days=7)
FRAUD_REASONS = ("fraudulent", "unrecognized")
CAPTURED = ("paid", "partially_refunded", "refunded")


@dataclass
class GeneratedDoc:
    evidence_field: str
    filename: str
    data: bytes = field(repr=False)
    pages: int
    content_type: str = "application/pdf"


@dataclass
class Packet:
    fields: dict[str, str]
    documents: list[GeneratedDoc]
    warnings: list[str]


@dataclass
class Facts:
    """The records a packet is made of, each read once."""

    dispute: Dispute
    order: Order
    payments: list[Payment]
    refunds: list[Refund]
    emails: list[EmailOutbox]
    prior: list[Order] = field(default_factory=list)
    duplicate: Order | None = None

    def money(self, amount: int) -> str:
        return format_money(amount, self.order.currency)

    @property
    def shipments(self):
        return sorted(self.order.fulfilments, key=lambda f: (f.shipped_at, f.id))

    @property
    def stores(self):
        return list({line.store_id: line.store for line in self.order.lines}.values())


def assemble(dispute: Dispute) -> Packet:
    """The packet for a dispute from its order's records; reads the database, writes nothing."""
    order = dispute.order
    if order is None:
        return Packet({}, [], ["This dispute is not linked to a Covet order: its evidence has to be written by hand."])
    wanted = fields_for(dispute.reason)
    facts = Facts(dispute, order, documents.payments_of(order), documents.refunds_of(order),
                  documents.customer_emails(order),
                  prior=_prior_orders(order) if dispute.reason in FRAUD_REASONS else [],
                  duplicate=_duplicate_candidate(order) if dispute.reason == "duplicate" else None)
    fields = {}
    for name in wanted:
        builder = TEXT_BUILDERS.get(name)
        text = builder(facts).strip() if builder else ""
        if text:
            fields[name] = text if len(text) <= FIELD_LIMIT else text[:FIELD_LIMIT - 1] + "…"
    docs = [doc for name in wanted if name in DOCUMENT_BUILDERS and (doc := DOCUMENT_BUILDERS[name](facts))]
    return Packet(fields, docs, _warnings(facts, wanted, fields, docs))


def _pdf(evidence_field: str, stem: str, made: tuple[bytes, int], order: Order) -> GeneratedDoc:
    data, pages = made
    return GeneratedDoc(evidence_field, f"{stem}-{order.number}.pdf", data, pages)


def _policy_doc(kind: str):
    def build(facts: Facts) -> GeneratedDoc | None:
        if not any(getattr(store, f"{kind}_policy") for store in facts.stores):
            return None
        return _pdf(f"{kind}_policy", f"{kind}-policy", documents.policy_pdf(facts.stores, kind, facts.order),
                    facts.order)
    return build


DOCUMENT_BUILDERS = {
    "receipt": lambda f: _pdf("receipt", "receipt", documents.receipt_pdf(f.order), f.order),
    "customer_communication": lambda f: _pdf("customer_communication", "customer-communication",
                                             documents.communication_pdf(f.order), f.order),
    "shipping_documentation": lambda f: _pdf("shipping_documentation", "shipping",
                                             documents.shipping_pdf(f.order), f.order) if f.order.fulfilments else None,
    "refund_policy": _policy_doc("refund"),
    "cancellation_policy": _policy_doc("cancellation"),
}


# --- the text fields
def _product_description(facts: Facts) -> str:
    rows = [f"{line.quantity} × {documents.item_name(line)}, SKU {line.sku}, "
            f"{facts.money(line.unit_price_amount)} each, sold by {line.store.name}" for line in facts.order.lines]
    return "\n".join(rows)


def _shipping_date(facts: Facts) -> str:
    return facts.shipments[0].shipped_at.date().isoformat() if facts.shipments else ""


def _summary(facts: Facts) -> str:
    """The order's story in a few sentences: placed, paid, shipped, told, refunded."""
    order = facts.order
    ip = f" from IP address {order.customer_ip}" if order.customer_ip else ""
    paid = next((p for p in facts.payments if p.status == "succeeded"), None)
    parts = [f"Order {order.number} was placed on {when(order.created_at)} by {order.customer_name or 'the customer'}"
             f" <{order.email}>{ip}, for {facts.money(order.total_amount)}."]
    if paid:
        parts.append(f"It was paid by card through Stripe Checkout on {when(order.paid_at or paid.created_at)}"
                     f"{f' (charge {paid.charge_id})' if paid.charge_id else ''}.")
    for shipment in facts.shipments:
        number = f", tracking {shipment.tracking_number}" if shipment.tracking_number else ""
        parts.append(f"{shipment.store.name} shipped with {carrier_label(shipment.carrier)} on "
                     f"{when(shipment.shipped_at)}{number}.")
    if not facts.shipments:
        parts.append("Nothing has been shipped.")
    if facts.emails:
        sent = "; ".join(f"{_email_name(row)} on {when(row.sent_at)}" for row in facts.emails)
        parts.append(f"Covet emailed the customer {len(facts.emails)} times: {sent}.")
    parts.append(_refunds_sentence(facts))
    return " ".join(parts)


def _email_name(row: EmailOutbox) -> str:
    return row.template.replace("_", " ")


def _refunds_sentence(facts: Facts) -> str:
    done = [r for r in facts.refunds if r.status in ("succeeded", "pending")]
    if not done:
        return "No refund has been requested through or made by Covet."
    listed = "; ".join(f"{facts.money(r.amount)} on {when(r.created_at)} ({r.status})" for r in done)
    return f"Refunds made: {listed}."


def _uncategorized(facts: Facts) -> str:
    if facts.dispute.reason not in FRAUD_REASONS:
        return _summary(facts)
    return f"{_prior_orders_text(facts)}\n\n{_summary(facts)}"


def _prior_orders_text(facts: Facts) -> str:
    if not facts.prior:
        return f"Covet holds no earlier undisputed order by {facts.order.email}."
    rows = [f"- {o.number}, {when(o.created_at)}, {format_money(o.total_amount, o.currency)}, "
            f"{o.payment_status.replace('_', ' ')}, {o.fulfilment_status}"
            f"{f', IP {o.customer_ip}' if o.customer_ip else ''}" for o in facts.prior]
    return (f"Earlier orders by the same customer ({facts.order.email}) that were paid and never disputed, "
            f"newest first ({len(rows)}):\n" + "\n".join(rows))


def _refusal(facts: Facts) -> str:
    return (f"{_summary(facts)} The customer's purchase is covered by the store's refund policy "
            f"(attached where the store has one).")


def _rebuttal(facts: Facts) -> str:
    order = facts.order
    if order.cancelled_at:
        return f"Order {order.number} was cancelled on {when(order.cancelled_at)}. {_refunds_sentence(facts)}"
    return f"Order {order.number} was never cancelled in Covet. {_summary(facts)}"


def _disclosure(kind: str):
    def build(facts: Facts) -> str:
        stores = [store.name for store in facts.stores if getattr(store, f"{kind}_policy")]
        if not stores:
            return ""
        return (f"The {kind} policy of {', '.join(stores)} is the one each store publishes on Covet for its "
                f"shoppers; its text is attached as the {kind} policy document.")
    return build


def _duplicate_explanation(facts: Facts) -> str:
    order, other = facts.order, facts.duplicate
    charge = next((p.charge_id for p in facts.payments if p.charge_id), None) or facts.dispute.charge_id
    mine = f"Order {order.number} (charge {charge}, {facts.money(order.total_amount)}, {when(order.created_at)})"
    if other is None:
        return (f"{mine} was charged once. Covet holds no other order by {order.email} for the same amount within "
                f"{DUPLICATE_WINDOW.days} days.")
    items = ", ".join(line.sku for line in other.lines)
    return (f"{mine} and order {other.number} ({when(other.created_at)}, {facts.money(other.total_amount)}, "
            f"items {items}) are two separate purchases, each placed, paid and handled on its own.")


def _duplicate_charge_id(facts: Facts) -> str:
    if facts.duplicate is None:
        return ""
    return db.session.scalar(select(Payment.charge_id).where(Payment.order_id == facts.duplicate.id,
                                                             Payment.charge_id.is_not(None))) or ""


TEXT_BUILDERS = {
    "customer_name": lambda f: f.order.customer_name or (f.order.customer.name if f.order.customer else ""),
    "customer_email_address": lambda f: f.order.email,
    "customer_purchase_ip": lambda f: f.order.customer_ip or "",
    "shipping_address": lambda f: format_address(f.order.shipping_address),
    "shipping_carrier": lambda f: ", ".join(dict.fromkeys(carrier_label(s.carrier) for s in f.shipments)),
    "shipping_tracking_number": lambda f: ", ".join(s.tracking_number for s in f.shipments if s.tracking_number),
    "shipping_date": _shipping_date,
    "product_description": _product_description,
    "uncategorized_text": _uncategorized,
    "refund_policy_disclosure": _disclosure("refund"),
    "cancellation_policy_disclosure": _disclosure("cancellation"),
    "refund_refusal_explanation": _refusal,
    "cancellation_rebuttal": _rebuttal,
    "duplicate_charge_id": _duplicate_charge_id,
    "duplicate_charge_explanation": _duplicate_explanation,
}


# --- reads for particular reasons
def _same_customer(order: Order):
    same_email = func.lower(Order.email) == (order.email or "").lower()
    return or_(Order.customer_id == order.customer_id, same_email) if order.customer_id else same_email


def _prior_orders(order: Order) -> list[Order]:
    """Earlier captured orders by the same customer with no dispute, newest first."""
    return list(db.session.scalars(
        select(Order).where(_same_customer(order), Order.id != order.id, Order.created_at < order.created_at,
                            Order.payment_status.in_(CAPTURED), ~exists().where(Dispute.order_id == Order.id))
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(PRIOR_ORDERS)))


def _duplicate_candidate(order: Order) -> Order | None:
    """Another captured order by the same customer for the same amount, nearest in time within the window."""
    rows = db.session.scalars(
        select(Order).where(_same_customer(order), Order.id != order.id, Order.total_amount == order.total_amount,
                            Order.payment_status.in_(CAPTURED),
                            Order.created_at.between(order.created_at - DUPLICATE_WINDOW,
                                                     order.created_at + DUPLICATE_WINDOW)).limit(20))
    return min(rows, key=lambda o: abs(o.created_at - order.created_at), default=None)


def _warnings(facts: Facts, wanted: tuple[str, ...], fields: dict, docs: list[GeneratedDoc]) -> list[str]:
    reason, order = facts.dispute.reason, facts.order
    notes = []
    if "shipping_documentation" in wanted and not order.fulfilments:
        notes.append(f"No shipment is recorded for {order.number}: “{reason_label(reason)}” is hard to win "
                     f"without tracking.")
    if "customer_purchase_ip" in wanted and not order.customer_ip:
        notes.append("Covet has no purchase IP for this order (it is recorded from checkout on).")
    if "billing_address" in wanted:
        notes.append("Covet keeps no billing address: copy the card's from the charge in Stripe if it helps.")
    if not facts.emails:
        notes.append("No email to the customer about this order is recorded.")
    for kind in ("refund", "cancellation"):
        if f"{kind}_policy" in wanted:
            missing = [s.name for s in facts.stores if not getattr(s, f"{kind}_policy")]
            if missing:
                notes.append(f"No {kind} policy set for {', '.join(missing)} (store settings).")
            if f"{kind}_policy_disclosure" in fields:
                notes.append(f"Check the {kind} policy disclosure: say where the customer saw the policy "
                             f"before paying.")
    if "refund_refusal_explanation" in fields:
        notes.append("The refund refusal explanation states the order's facts: add why no refund is owed.")
    notes += [w for doc in docs if (w := page_warning(doc.filename, doc.pages))]
    problems = check_fields(fields)
    if ALL in problems:
        notes.append(problems[ALL])
    return notes


# --- into the draft
def prepare(dispute: Dispute, actor: Actor) -> Packet:
    """Assemble the packet and put it in the dispute's draft; flushes, never commits. Returns the packet
    (its warnings are for the person who asked).

    Text: a field is (re)filled when the draft has it empty or still holds exactly what Covet filled last time
    (kept in `evidence_draft["prefilled"]`); text anyone typed or changed is never overwritten. Files: earlier
    *generated* files for the same field are replaced (rows deleted, objects removed after commit); uploads
    by staff or stores are never touched, and a field whose draft points at an upload keeps pointing at it."""
    if not dispute.editable:
        raise ValidationError({"dispute": "This dispute's evidence can no longer be changed."})
    packet = assemble(dispute)
    draft = dict(dispute.evidence_draft or {})
    fields, prefilled = dict(draft.get("fields") or {}), dict(draft.get("prefilled") or {})
    for name, text in packet.fields.items():
        current = fields.get(name) or ""
        if not current.strip() or current == prefilled.get(name):
            fields[name] = prefilled[name] = text
    files = {name: int(file_id) for name, file_id in (draft.get("files") or {}).items() if file_id}
    stale_keys = []
    for doc in packet.documents:
        for old in [f for f in dispute.files if f.generated and f.evidence_field == doc.evidence_field]:
            if old.storage_key:
                stale_keys.append(old.storage_key)
            dispute.files.remove(old)
        new = save_generated(dispute, doc, actor.user_id)
        chosen = next((f for f in dispute.files if f.id == files.get(doc.evidence_field)), None)
        if chosen is None or chosen.generated:
            files[doc.evidence_field] = new.id
    dispute.evidence_draft = {**draft, "fields": fields, "files": files, "prefilled": prefilled}
    if stale_keys:
        from covet.media.jobs import delete_stored_objects

        enqueue(delete_stored_objects, *stale_keys)
    db.session.flush()
    return packet


__all__ = ["EVIDENCE_FIELDS", "GeneratedDoc", "Packet", "assemble", "prepare"]
