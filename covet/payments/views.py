"""A minimal checkout endpoint (the storefront comes later) and the pages Stripe sends shoppers back to."""
from flask import Blueprint, jsonify, redirect, request

from covet.errors import ValidationError
from covet.extensions import csrf, db, limiter
from covet.payments import checkout
from covet.payments.gateway import GatewayError, PaymentsDisabledError
from covet.web.htmx import render_page

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


def _cart() -> tuple[list[dict], str, str | None]:
    if request.is_json:
        body = request.get_json(silent=True) or {}
        return body.get("items") or [], body.get("email", ""), body.get("currency")
    ids, quantities = request.form.getlist("variant_id"), request.form.getlist("quantity")
    items = [{"variant_id": int(v), "quantity": int(q)} for v, q in zip(ids, quantities, strict=False)
             if v.isdigit() and q.isdigit()]
    return items, request.form.get("email", ""), request.form.get("currency")


@bp.post("")
@limiter.limit("20 per minute")
@csrf.exempt  # a shopper's cart, not an admin action: it only creates a pending order and a Stripe session
def checkout_start():
    """Create a pending order and send the shopper to Stripe Checkout (JSON gets the URL instead)."""
    items, email, currency = _cart()
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
