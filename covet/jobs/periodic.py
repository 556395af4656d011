"""Scheduled work on RQ's scheduler: each run books the next one, in a time slot whose job id is fixed,
so any number of workers starting up (or a run retried) never books the same slot twice."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from covet.jobs.core import flush_outbox, job


def _flush_outbox() -> int:
    return flush_outbox()


def _requeue_stalled_emails() -> int:
    from covet.notifications.services import requeue_stalled

    return requeue_stalled()


def _dispute_reminders() -> int:
    from covet.disputes.services import send_deadline_reminders

    return send_deadline_reminders()


def _settle_dispute_liability() -> int:
    # Reversals, re-transfers and debts a Stripe error left failed or pending are tried again.
    from covet.disputes.liability import settle_outstanding

    return settle_outstanding()


def _purge_pending_cache_tags() -> int:
    # Safety net: tags left pending when the run that should have taken them was rolled back.
    from covet.storefront.jobs import purge_pending_tags

    return purge_pending_tags()["tags"]


def _send_waiting_transfers() -> int:
    # Safety net: a store whose payouts were enabled without an event we saw.
    from covet.extensions import db
    from covet.payments.transfers import release_waiting_transfers

    queued = release_waiting_transfers(statuses=("waiting",))  # failed ones: RQ's retries, then staff's Retry
    db.session.commit()
    return queued


def recover() -> int:
    """Jobs Redis lost are sent again; stored Stripe events nothing is working on are queued again."""
    from covet.jobs.recovery import recover_lost_jobs
    from covet.webhooks.sweep import requeue_stranded_events

    counts = recover_lost_jobs()
    return counts["lost"] + requeue_stranded_events()


# name → (what to run, every N seconds, queue)
SCHEDULE: dict[str, tuple[Callable[[], int], int, str]] = {
    "flush-job-outbox": (_flush_outbox, 30, "high"),
    "recover-lost-jobs": (recover, 60, "high"),
    "requeue-stalled-emails": (_requeue_stalled_emails, 60, "high"),
    "dispute-deadline-reminders": (_dispute_reminders, 3600, "low"),
    "settle-dispute-liability": (_settle_dispute_liability, 900, "default"),
    "purge-pending-cache-tags": (_purge_pending_cache_tags, 60, "default"),
    "send-waiting-transfers": (_send_waiting_transfers, 900, "default"),
}


def next_slot(name: str, now: dt.datetime) -> tuple[str, dt.datetime]:
    every = SCHEDULE[name][1]
    slot = int(now.timestamp() // every) + 1
    return f"periodic-{name}-{slot}", dt.datetime.fromtimestamp(slot * every, tz=dt.UTC)


def book(connection, name: str, now: dt.datetime | None = None) -> str:
    """Book the next run of `name` on RQ's scheduler (idempotent per slot)."""
    from rq import Queue

    job_id, run_at = next_slot(name, now or dt.datetime.now(dt.UTC))
    queue = Queue(SCHEDULE[name][2], connection=connection)
    queue.enqueue_at(run_at, run_periodic.path, name, job_id=job_id, job_timeout=run_periodic.spec.timeout,
                     result_ttl=3600, failure_ttl=7 * 24 * 3600)
    return job_id


def book_all(connection) -> list[str]:
    """Called when a worker starts: make sure every scheduled task has its next run booked."""
    return [book(connection, name) for name in SCHEDULE]


@job(queue="high", timeout=300, retry=())
def run_periodic(name: str) -> int:
    """Book the next run first (a failure must not break the chain), then do the work."""
    from covet.redis_client import get_redis

    connection = get_redis()
    if connection is not None:
        book(connection, name)
    return SCHEDULE[name][0]()
