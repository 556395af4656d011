"""Safety net for stored Stripe events: one still pending long after it arrived, with no job on its way
(no outbox row for it, whatever its state), is queued again; after MAX_ATTEMPTS it is marked failed, where
the admin's webhook list shows it with Replay."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs import enqueue
from covet.jobs.models import JobOutbox
from covet.webhooks.models import StripeEvent

GRACE = dt.timedelta(minutes=10)  # longer than a queued job's first check (covet.jobs.recovery)
MAX_ATTEMPTS = 10  # RQ's own retries of process_stripe_event are 6 attempts


def requeue_stranded_events(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Queue again the pending events nothing is working on; returns how many were queued."""
    from covet.webhooks.jobs import process_stripe_event

    now = now or utcnow()
    stranded = db.session.execute(
        select(StripeEvent.id, StripeEvent.attempts)
        .where(StripeEvent.status == "pending", StripeEvent.received_at < now - GRACE)
        .order_by(StripeEvent.received_at).limit(limit)).all()
    if not stranded:
        return 0
    covered = {args[0] for args in db.session.scalars(
        select(JobOutbox.args).where(JobOutbox.func == process_stripe_event.path)) if args}
    queued = 0
    for event_id, attempts in stranded:
        if event_id in covered:
            continue
        if attempts >= MAX_ATTEMPTS:
            db.session.execute(update(StripeEvent).where(StripeEvent.id == event_id, StripeEvent.status == "pending")
                               .values(status="failed", last_error=f"gave up after {attempts} attempts"))
        else:
            enqueue(process_stripe_event, event_id)
            queued += 1
    db.session.commit()
    return queued
