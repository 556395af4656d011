"""Jobs handed to RQ and then lost (Redis restarted with an empty dataset, a worker killed mid-job) are
found and sent again: an outbox row stays `queued` until its job finishes, and this sweep compares each
queued row with RQ's view of its job. Run every minute by the scheduler and when a worker (re)connects."""
from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

from flask import Flask, current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs.core import QUEUES, deliver
from covet.jobs.models import JobOutbox
from covet.observability import get_logger

MAX_DELIVERIES = 5  # a job lost this many times is marked failed for an admin instead of sent again
RECHECK = dt.timedelta(minutes=5)  # a job RQ still holds is looked at again after this
LIVE = {"queued", "scheduled", "deferred", "started"}


def recover_lost_jobs(app: Flask | None = None, now: dt.datetime | None = None, limit: int = 1000) -> Counter:
    """Send again every queued job RQ no longer has (or abandoned); mark failed the ones RQ gave up on."""
    from covet.redis_client import get_redis

    app = app or current_app._get_current_object()
    connection = get_redis(app)
    if connection is None:  # embedded mode: pending rows are retried by the outbox flush
        return Counter()
    now = now or utcnow()
    _expire_abandoned(connection, now)
    with Session(db.engine, expire_on_commit=False) as session:
        rows = session.scalars(select(JobOutbox).where(JobOutbox.status == "queued", JobOutbox.locked_until < now)
                               .order_by(JobOutbox.locked_until).limit(limit)).all()
    counts: Counter = Counter()
    resend: list[int] = []
    for row in rows:
        state, error = _job_state(connection, row.job_id)
        counts[state] += 1
        if state == "lost":
            if _release(row, now, error):
                resend.append(row.id)
        else:
            _settle_checked(row, state, now, error)
    if resend:
        deliver(app, resend)
    if counts["lost"] or counts["failed"]:
        get_logger("covet.jobs").warning("lost_jobs_recovered", extra=dict(counts))
    return counts


def _expire_abandoned(connection, now: dt.datetime) -> None:
    """RQ's own clean-up: a started job whose worker stopped heart-beating is retried or marked failed."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    for name in QUEUES:
        StartedJobRegistry(queue=Queue(name, connection=connection)).cleanup(timestamp=now.timestamp())


def _job_state(connection, job_id: str) -> tuple[str, str | None]:
    """'live', 'done', 'failed' (with RQ's error) or 'lost' (gone from Redis, or abandoned by its worker)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        rq_job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return "lost", "its job vanished from Redis"
    status = str(getattr(rq_job.get_status(), "value", rq_job.get_status()))
    if status in LIVE:
        return "live", None
    if status == "finished":
        return "done", None
    result = rq_job.latest_result()
    error = (result.exc_string if result else None) or rq_job.exc_info or ""
    if "AbandonedJobError" in error:
        rq_job.delete()  # its row is sent again under a new id; the abandoned copy would only confuse
        return "lost", "its worker died while running it"
    return "failed", (error or f"RQ status {status}")[-4000:]


def _release(row: JobOutbox, now: dt.datetime, why: str) -> bool:
    """Back to pending under a new job id, or failed when it was lost too often; True when it goes again."""
    due = row.created_at + dt.timedelta(seconds=row.delay_seconds or 0)  # a delayed job keeps its due time
    values: dict = {"locked_until": None, "job_id": uuid.uuid4().hex,
                    "delay_seconds": max(0, int((due - now).total_seconds()))}
    if row.deliveries >= MAX_DELIVERIES:
        values.update(status="failed", last_error=f"lost {row.deliveries} times ({why}); not sent again")
    else:
        values.update(status="pending", last_error=f"re-sent: {why}")
    with Session(db.engine) as session:
        session.execute(update(JobOutbox).where(JobOutbox.id == row.id, JobOutbox.status == "queued")
                        .values(**values))
        session.commit()
    return values["status"] == "pending"


def _settle_checked(row: JobOutbox, state: str, now: dt.datetime, error: str | None) -> None:
    where = update(JobOutbox).where(JobOutbox.id == row.id, JobOutbox.status == "queued")
    with Session(db.engine) as session:
        if state == "live":
            session.execute(where.values(locked_until=now + RECHECK))
        elif state == "done":  # finished, but its row outlived it (the job ran outside @job's wrapper)
            session.execute(delete(JobOutbox).where(JobOutbox.id == row.id, JobOutbox.status == "queued"))
        else:
            session.execute(where.values(status="failed", locked_until=None, last_error=error))
        session.commit()
