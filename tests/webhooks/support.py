"""Build Stripe-shaped events and sign them with the real library, as Stripe would."""
from __future__ import annotations

import json
import time
import uuid

import stripe

SECRET = "whsec_test_covet_secret"


def event(type_: str, obj: dict, created: int | None = None, account: str | None = None,
          event_id: str | None = None) -> dict:
    body = {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": type_,
            "created": created or int(time.time()), "livemode": False, "api_version": "2024-06-20",
            "data": {"object": obj}}
    if account:
        body["account"] = account
    return body


def signed(body: dict | bytes, secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, dict]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp or int(time.time()))
    return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}


def post(client, body, **kwargs):
    payload, headers = signed(body, **kwargs)
    return client.post("/webhooks/stripe", data=payload, headers=headers)


def session_completed(order, paid=True, created=None, intent="pi_x"):
    return event("checkout.session.completed", {
        "id": f"cs_{order.number}", "object": "checkout.session", "payment_status": "paid" if paid else "unpaid",
        "status": "complete", "amount_total": order.total_amount, "currency": order.currency,
        "payment_intent": f"{intent}_{order.number}", "metadata": {"order_id": str(order.id)}}, created)


def intent_event(order, type_="payment_intent.succeeded", created=None, intent="pi_x"):
    obj = {"id": f"{intent}_{order.number}", "object": "payment_intent", "amount": order.total_amount,
           "currency": order.currency, "latest_charge": f"ch_{order.number}",
           "metadata": {"order_id": str(order.id)}}
    if type_.endswith("failed"):
        obj["last_payment_error"] = {"message": "Your card was declined."}
        obj["latest_charge"] = None
    return event(type_, obj, created)


def charge_refunded(order, refunded: int, created=None, intent="pi_x"):
    return event("charge.refunded", {
        "id": f"ch_{order.number}", "object": "charge", "amount": order.total_amount,
        "amount_refunded": refunded, "payment_intent": f"{intent}_{order.number}", "currency": order.currency,
        "refunds": {"data": [{"id": f"re_{order.number}_{refunded}", "amount": refunded, "status": "succeeded",
                              "currency": order.currency}]}}, created)
