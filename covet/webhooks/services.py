"""Receive Stripe events (verify, store once, enqueue) and process them through the handler table."""
from __future__ import annotations

import datetime as dt
import json
import traceback

import stripe
from flask import current_app
from sqlalchemy import select, update

from covet.audit.services import Actor, record
from covet.dbtypes import insert_if_absent, utcnow
from covet.extensions import db
from covet.jobs import enqueue
from covet.webhooks.models import StripeEvent

MAX_BODY = 256 * 1024  # Stripe events are a few KB; anything this large is not from Stripe
TOLERANCE = 300  # seconds; Stripe's own default for signed timestamps


class SignatureError(ValueError):
    """The payload is not signed by Stripe with our secret (or the signature is too old)."""


def verify(payload: bytes, signature: str | None) -> dict:
    """The event as a dict if Stripe signed this exact body with STRIPE_WEBHOOK_SECRET, else SignatureError."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not signature:
        raise SignatureError("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise SignatureError(str(exc)) from None
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        raise SignatureError("body is not JSON") from None
    problem = event_shape_problem(event, payload)
    if problem:
        raise SignatureError(problem)
    return event


MAX_CREATED = 253402300799  # 9999-12-31T23:59:59Z: the last second a datetime holds


def event_shape_problem(event, payload: bytes) -> str | None:
    """Why a signed body cannot be stored as a Stripe event (its columns' types and lengths), or None."""
    if not isinstance(event, dict):
        return "not a Stripe event"
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created", 0)
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or not isinstance(event_type, str) \
            or not event_type:
        return "not a Stripe event"
    if len(event_id) > 255 or len(event_type) > 100:
        return "event id or type too long"
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created <= MAX_CREATED:
        return "event created is not a timestamp"
    if b"\\u0000" in payload:  # JSONB refuses NUL in text; a body that holds one could never be stored
        return "event holds a NUL character"
    return None


def event_job_id(event_row_id: int) -> str:
    """The RQ job id of a stored event's first processing (the sweep looks it up to see a lost push)."""
    return f"stripe-event-{event_row_id}"


def store_event(event: dict) -> bool:
    """Store the event and queue its processing after the commit; False for a duplicate id.

    The stored row is the event's own outbox: it stays pending until processed, and the sweep
    (covet/webhooks/sweep.py) queues it again if the push after commit was lost; so the acknowledgement
    is one INSERT and its commit."""
    from covet.jobs.core import enqueue_unrecorded
    from covet.webhooks.jobs import process_stripe_event

    new_id = insert_if_absent(
        StripeEvent, "event_id", event_id=event["id"], type=event["type"], livemode=bool(event.get("livemode")),
        payload=event, stripe_created_at=dt.datetime.fromtimestamp(event.get("created", 0), dt.UTC),
        status="pending", attempts=0, received_at=utcnow())
    if new_id is None:
        db.session.rollback()
        return False
    enqueue_unrecorded(process_stripe_event, new_id, job_id=event_job_id(new_id))
    db.session.commit()
    return True


def process(event_row_id: int) -> str:
    """Run the handler for a stored event; idempotent, so a replay or a duplicate delivery changes nothing."""
    from covet.webhooks.handlers import HANDLERS, linking_order

    row = db.session.get(StripeEvent, event_row_id)
    if row is None:
        return "missing"
    handler = HANDLERS.get(row.type)
    # Counted in its own transaction: a failing handler rolls back its work, not the attempt.
    _mark(row.id, attempts=StripeEvent.attempts + 1)
    if handler is None:
        row.status, row.processed_at = "ignored", utcnow()
        db.session.commit()
        return "ignored"
    with linking_order() as link:
        try:
            handler(row.payload)
        except Exception as exc:
            db.session.rollback()
            _mark(row.id, status="failed", last_error="".join(traceback.format_exception(exc))[-4000:],
                  **_order_link(link.order_id))
            raise
    _mark(row.id, status="processed", processed_at=utcnow(), last_error=None, **_order_link(link.order_id))
    return "processed"


def _order_link(order_id: int | None) -> dict:
    """Link the event to the order its handler found; a later run that finds none never unlinks it."""
    return {} if order_id is None else {"order_id": order_id}


def _mark(row_id: int, **values) -> None:
    db.session.execute(update(StripeEvent).where(StripeEvent.id == row_id).values(**values))
    db.session.commit()


def replay(event_row_id: int, actor: Actor) -> bool:
    """Process a stored event again (admin); handlers are idempotent, so this is always safe."""
    from covet.webhooks.jobs import process_stripe_event

    if db.session.scalar(select(StripeEvent.id).where(StripeEvent.id == event_row_id)) is None:
        return False
    db.session.execute(update(StripeEvent).where(StripeEvent.id == event_row_id).values(status="pending"))
    record(actor, "webhook.replayed", "stripe_event", event_row_id)
    enqueue(process_stripe_event, event_row_id)
    db.session.commit()
    return True
