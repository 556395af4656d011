"""From a cart to a pending order and a Stripe Checkout Session (separate charges and transfers)."""
from __future__ import annotations

import datetime as dt
import secrets

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select

from covet.catalog.models import Product, Variant
from covet.errors import ValidationError
from covet.extensions import db
from covet.money import MAX_AMOUNT
from covet.orders.models import Order, OrderLine
from covet.payments import gateway
from covet.payments.models import Payment
from covet.web.params import parse_id, parse_int_or_none

MAX_LINES, MAX_QUANTITY = 50, 20
SESSION_MINUTES = 31  # just above Stripe's 30-minute minimum; an abandoned cart is cancelled when it expires


def checkout_currency(client_currency: str | None) -> str:
    """STRIPE_CURRENCY, else the client's, else usd (the seed's rule)."""
    client = client_currency if isinstance(client_currency, str) else ""
    chosen = current_app.config.get("STRIPE_CURRENCY") or client.lower() or "usd"
    return chosen if len(chosen) == 3 and chosen.isascii() and chosen.isalpha() else "usd"


def _cart_lines(items: list[dict], currency: str) -> list[OrderLine]:
    if not items or len(items) > MAX_LINES:
        raise ValidationError({"items": f"Add 1 to {MAX_LINES} items."})
    lines, errors = [], {}
    for index, item in enumerate(items):
        variant_id, quantity = item.get("variant_id"), item.get("quantity", 1)
        if parse_id(variant_id) is None or parse_int_or_none(quantity, 1, MAX_QUANTITY) is None \
                or not isinstance(variant_id, int) or not isinstance(quantity, int):
            errors[f"items[{index}]"] = f"Give a variant id and a quantity from 1 to {MAX_QUANTITY}."
            continue
        row = db.session.execute(select(Variant, Product).join(Product).where(
            Variant.id == variant_id, Variant.active.is_(True), Product.status == "active")).first()
        if row is None:
            errors[f"items[{index}]"] = "This item is not for sale."
            continue
        variant, product = row
        if variant.currency != currency:
            errors[f"items[{index}]"] = f"Priced in {variant.currency.upper()}, not {currency.upper()}."
            continue
        lines.append(OrderLine(store_id=variant.store_id, variant_id=variant.id, product_title=product.title,
                               variant_title=variant.title, sku=variant.sku, quantity=quantity,
                               unit_price_amount=variant.price_amount))  # current price, read now
    if errors:
        raise ValidationError(errors)
    return lines


def start_checkout(items: list[dict], email: str, client_currency: str | None, customer_ip: str | None) -> str:
    """Create the pending order and its Checkout Session; returns the URL to send the shopper to."""
    gateway.client()  # PaymentsDisabledError before anything is written
    try:
        email = validate_email(email if isinstance(email, str) else "", check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError({"email": str(exc)}) from None
    currency = checkout_currency(client_currency)
    lines = _cart_lines(items, currency)
    total = sum(line.unit_price_amount * line.quantity for line in lines)
    if total > MAX_AMOUNT:  # the order's INTEGER total column holds no more
        raise ValidationError({"items": "The cart's total is too large for one order."})
    order = Order(number=f"CV-{secrets.token_hex(4).upper()}", email=email, currency=currency,
                  customer_ip=customer_ip, subtotal_amount=total, total_amount=total, payment_status="unpaid",
                  lines=lines)
    db.session.add(order)
    db.session.flush()
    payment = Payment(order_id=order.id, amount=total, currency=currency, status="pending")
    db.session.add(payment)
    db.session.commit()  # the order exists before Stripe hears of it: a webhook can always find it
    session = gateway.call("/v1/checkout/sessions", "post", _session_params(order),
                           idempotency_key=f"checkout:{order.number}")
    payment.checkout_session_id = session["id"]
    db.session.commit()
    return session["url"]


def _session_params(order: Order) -> dict:
    public = current_app.config["PUBLIC_URL"]
    expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(minutes=SESSION_MINUTES)).timestamp())
    return {
        "mode": "payment", "customer_email": order.email, "client_reference_id": order.number,
        "success_url": f"{public}/checkout/success?order={order.number}",
        "cancel_url": f"{public}/checkout/cancelled?order={order.number}", "expires_at": expires,
        "metadata": {"order_id": order.id, "order_number": order.number},
        "payment_intent_data": {"transfer_group": order.number,
                                "metadata": {"order_id": order.id, "order_number": order.number}},
        "line_items": [{"quantity": line.quantity, "price_data": {
            "currency": order.currency, "unit_amount": line.unit_price_amount,
            "product_data": {"name": f"{line.product_title} — {line.variant_title}".strip(" —")}}}
            for line in order.lines],
    }
