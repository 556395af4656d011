"""Safety net for stored Stripe events, which are their own outbox: one pending (or failed) a minute after it
arrived with no job on its way — none in RQ under its id (covet.webhooks.services.event_job_id) and no
outbox row (a replay's) — is queued again; after MAX_ATTEMPTS it is marked failed, where the admin's
webhook list shows it with Replay."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs import enqueue
from covet.jobs.models import JobOutbox
from covet.webhooks.models import StripeEvent

GRACE = dt.timedelta(seconds=60)  # the push after commit takes milliseconds; a minute means it was lost
MAX_ATTEMPTS = 10  # RQ's own retries of process_stripe_event are 6 attempts


def requeue_stranded_events(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Queue again the pending or failed events nothing is working on; returns how many were queued."""
    from covet.webhooks.jobs import process_stripe_event

    now = now or utcnow()
    candidates = db.session.execute(
        select(StripeEvent.id, StripeEvent.attempts)
        .where(StripeEvent.status.in_(("pending", "failed")), StripeEvent.received_at < now - GRACE,
               StripeEvent.attempts < MAX_ATTEMPTS + 1)
        .order_by(StripeEvent.received_at).limit(limit)).all()
    if not candidates:
        return 0
    covered = {args[0] for args in db.session.scalars(
        select(JobOutbox.args).where(JobOutbox.func == process_stripe_event.path)) if args}
    live = _live_in_rq([row_id for row_id, _ in candidates if row_id not in covered])
    queued = 0
    for event_id, attempts in candidates:
        if event_id in covered or event_id in live:
            continue
        if attempts >= MAX_ATTEMPTS:
            db.session.execute(update(StripeEvent).where(StripeEvent.id == event_id)
                               .values(status="failed", attempts=attempts + 1, last_error=func.coalesce(
                                   StripeEvent.last_error, f"gave up after {attempts} attempts; Replay to retry")))
        else:
            enqueue(process_stripe_event, event_id)
            queued += 1
    db.session.commit()
    return queued


def _live_in_rq(event_ids: list[int]) -> set[int]:
    """The events whose first job RQ still holds (queued, scheduled for a retry, running)."""
    from rq.job import Job

    from covet.jobs.recovery import LIVE
    from covet.redis_client import get_redis
    from covet.webhooks.services import event_job_id

    connection = get_redis()
    if connection is None or not event_ids:
        return set()
    jobs = Job.fetch_many([event_job_id(i) for i in event_ids], connection=connection)
    return {event_id for event_id, rq_job in zip(event_ids, jobs, strict=True)
            if rq_job is not None and str(getattr(rq_job.get_status(), "value", "")) in LIVE}
