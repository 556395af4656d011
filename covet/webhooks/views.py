"""POST /webhooks/stripe: verify on the raw body, store once, enqueue, answer in milliseconds."""
from flask import Blueprint, abort, current_app, jsonify, request

from covet.extensions import csrf, limiter
from covet.observability import get_logger
from covet.webhooks import services

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@limiter.limit(lambda: current_app.config.get("WEBHOOK_RATE_LIMIT") or "6000 per minute")  # Stripe bursts
@csrf.exempt  # Stripe cannot send our CSRF token; the signature on the raw body is the check
def stripe_webhook():
    """Acknowledge a signed Stripe event; processing happens in the worker."""
    if not current_app.config.get("STRIPE_WEBHOOK_SECRET"):
        abort(404)  # Stripe is optional: without a secret there is no endpoint to talk to
    if (request.content_length or 0) > services.MAX_BODY:
        abort(413)
    payload = request.get_data(cache=False)
    if len(payload) > services.MAX_BODY:
        abort(413)
    try:
        event = services.verify(payload, request.headers.get("Stripe-Signature"))
    except services.SignatureError as exc:
        get_logger("covet.webhooks").warning("webhook_rejected", extra={"reason": str(exc)[:200]})
        return jsonify(error="invalid signature"), 400
    created = services.store_event(event)
    return jsonify(received=True, duplicate=not created), 200
