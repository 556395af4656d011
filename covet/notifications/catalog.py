"""The transactional emails: subject, required context and demo data for each template.

Templates live in templates/emails/<name>.html and <name>.txt and get the context below, plus
`public_url` (PUBLIC_URL) and `subject`. Money is in minor units; format with `| money(currency)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EmailTemplate:
    name: str
    subject: str  # Jinja source rendered with the same context
    required: tuple[str, ...]
    demo: dict = field(default_factory=dict)


_LINES = [{"title": "Silk Evening Dress", "variant": "M / Noir", "sku": "MAI-00-005", "quantity": 1,
           "unit_price": 129000},
          {"title": "Cashmere Wrap", "variant": "Camel", "sku": "MAI-01-000", "quantity": 2, "unit_price": 42000}]

TEMPLATES: dict[str, EmailTemplate] = {t.name: t for t in [
    EmailTemplate(
        "order_confirmation", "Your Covet order {{ order_number }} is confirmed",
        ("order_number", "customer_name", "currency", "lines", "subtotal", "shipping", "tax", "total"),
        {"order_number": "CV-1042", "customer_name": "Olivia Martin", "currency": "eur", "lines": _LINES,
         "subtotal": 213000, "shipping": 0, "tax": 0, "total": 213000,
         "shipping_address": {"line1": "12 Rue de la Paix", "city": "Paris", "postal_code": "75002",
                              "country": "FR"}}),
    EmailTemplate(
        "shipping_notification", "Your Covet order {{ order_number }} is on its way",
        ("order_number", "customer_name", "carrier", "tracking_number", "lines"),
        {"order_number": "CV-1042", "customer_name": "Olivia Martin", "carrier": "DHL Express",
         "tracking_number": "JD014600006281", "lines": _LINES[:1],
         "tracking_url": "https://www.dhl.com/en/express/tracking.html?AWB=JD014600006281"}),
    EmailTemplate(
        "order_cancelled", "Your Covet order {{ order_number }} has been cancelled",
        ("order_number", "customer_name", "currency", "refunded_amount", "lines"),
        {"order_number": "CV-1042", "customer_name": "Olivia Martin", "currency": "eur", "refunded_amount": 213000,
         "lines": _LINES}),
    EmailTemplate(
        "dispute_opened", "{% if reminder %}Reminder: evidence due{% else %}Dispute opened{% endif %} "
                          "on order {{ order_number }}",
        ("order_number", "amount", "currency", "reason", "evidence_due_by", "dispute_url"),
        {"order_number": "CV-1042", "amount": 129000, "currency": "eur", "reason": "product_not_received",
         "evidence_due_by": "2026-11-30T23:59:59+00:00", "dispute_url": "/admin/disputes/1",
         "store_name": "Maison Lune", "reminder": False}),
    EmailTemplate(
        "dispute_closed", "Dispute {{ 'won' if outcome == 'won' else 'lost' }} on order {{ order_number }}",
        ("order_number", "amount", "currency", "reason", "outcome", "dispute_url"),
        {"order_number": "CV-1042", "amount": 129000, "currency": "eur", "reason": "product_not_received",
         "outcome": "won", "dispute_url": "/admin/disputes/1"}),
    EmailTemplate(
        "seller_payout", "A payout of {{ amount | money(currency) }} is on its way to {{ store_name }}",
        ("store_name", "amount", "currency", "arrival_date", "payout_id"),
        {"store_name": "Maison Lune", "amount": 184500, "currency": "eur", "arrival_date": "2026-11-25",
         "payout_id": "po_1QxYz", "payouts_url": "/admin/payouts"}),
    EmailTemplate(
        "price_drop_alert", "{{ product_title }} is now {{ new_price | money(currency) }}",
        ("product_title", "old_price", "new_price", "currency", "product_url", "unsubscribe_url"),
        {"product_title": "Leather Tote", "variant_title": "Cognac", "old_price": 89000, "new_price": 69000,
         "currency": "usd", "product_url": "/products/leather-tote",
         "unsubscribe_url": "/alerts/unsubscribe/demo-token"}),
]}
