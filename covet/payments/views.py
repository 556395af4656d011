"""A minimal checkout endpoint (the storefront comes later) and the pages Stripe sends shoppers back to."""
from flask import Blueprint, jsonify, redirect, request

from covet.errors import ValidationError
from covet.extensions import csrf, db, limiter
from covet.payments import checkout
from covet.payments.checkout import MAX_QUANTITY
from covet.payments.gateway import GatewayError, PaymentsDisabledError
from covet.web.htmx import render_page
from covet.web.params import parse_id, parse_int_or_none

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


class CartError(ValueError):
    """A cart body of the wrong shape (a list, a string, items that are not objects)."""


def _json_cart() -> tuple[list[dict], str, str | None]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise CartError("Send a JSON object with items, email and currency.")
    items = body.get("items") or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CartError("items must be a list of objects with a variant_id and a quantity.")
    email, currency = body.get("email", ""), body.get("currency")
    if not isinstance(email, str) or not isinstance(currency, str | None):
        raise CartError("email and currency must be text.")
    return items, email, currency


def _cart() -> tuple[list[dict], str, str | None]:
    if request.is_json:
        return _json_cart()
    ids, quantities = request.form.getlist("variant_id"), request.form.getlist("quantity")
    items = [{"variant_id": parse_id(v), "quantity": parse_int_or_none(q, 1, MAX_QUANTITY)}
             for v, q in zip(ids, quantities, strict=False)]
    items = [item for item in items if item["variant_id"] and item["quantity"]]
    return items, request.form.get("email", ""), request.form.get("currency")


@bp.post("")
@limiter.limit("20 per minute")
@csrf.exempt  # a shopper's cart, not an admin action: it only creates a pending order and a Stripe session
def checkout_start():
    """Create a pending order and send the shopper to Stripe Checkout (JSON gets the URL instead)."""
    try:
        items, email, currency = _cart()
    except CartError as exc:
        return jsonify(error=str(exc)), 400
    try:
        url = checkout.start_checkout(items, email, currency or request.headers.get("X-Currency"),
                                      request.remote_addr)
    except PaymentsDisabledError as exc:
        return jsonify(error=str(exc)), 503
    except ValidationError as exc:
        db.session.rollback()
        return jsonify(error="Check the cart.", fields=exc.errors), 422
    except GatewayError as exc:
        return jsonify(error=exc.message), 502 if exc.retryable else 400
    return jsonify(url=url) if request.is_json else redirect(url, code=303)


@bp.get("/success")
def checkout_success():
    """Where Stripe sends the shopper after paying (the webhook, not this page, marks the order paid)."""
    return render_page("payments/checkout_done.html", paid=True, number=request.args.get("order", "")[:32])


@bp.get("/cancelled")
def checkout_cancelled():
    """Where Stripe sends the shopper who went back."""
    return render_page("payments/checkout_done.html", paid=False, number=request.args.get("order", "")[:32])
