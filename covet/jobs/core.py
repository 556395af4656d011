"""Job functions, enqueue-after-commit through the outbox, and delivery to RQ or the in-process runner."""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps

from flask import Flask, current_app, has_app_context
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs.models import JobOutbox
from covet.observability import bind_log_context, get_logger

QUEUES = ("high", "default", "low")
LEASE = dt.timedelta(seconds=60)
QUEUED_CHECK = dt.timedelta(seconds=60)  # a queued row is compared with RQ's view of its job from then on
_PRIMITIVES = (int, str, float, bool, type(None))


@dataclass(frozen=True)
class JobSpec:
    queue: str
    timeout: int
    retry_intervals: tuple[int, ...]


def job(queue: str = "default", timeout: int = 60, retry: tuple[int, ...] = (10, 60, 300)):
    """Declare an RQ entry point: its queue, timeout and retry backoff; it runs in its own app context."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue}")

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def run(*args, **kwargs):
            with job_app_context():
                result = fn(*args, **kwargs)
                _finished(_current_rq_job_id())
                return result

        run.spec = JobSpec(queue, timeout, tuple(retry))
        run.path = f"{fn.__module__}.{fn.__qualname__}"
        return run

    return decorate


# --- the app a worker process runs jobs in -------------------------------------------------------
_process_app: dict = {}


def worker_app() -> Flask:
    """The app for jobs in this process; a forked work horse drops the parent's pooled connections."""
    if "app" not in _process_app:
        from covet import create_app

        _process_app["app"] = create_app()
        _process_app["pid"] = os.getpid()
    app = _process_app["app"]
    if _process_app["pid"] != os.getpid():
        with app.app_context():
            db.engine.dispose(close=False)  # never use a connection opened before the fork
        _process_app["pid"] = os.getpid()
    return app


def use_worker_app(app: Flask) -> None:
    """Run jobs in this process with `app` (worker.py, tests)."""
    _process_app.update(app=app, pid=os.getpid())


@contextmanager
def job_app_context():
    if has_app_context():
        yield
        return
    app = worker_app()
    with app.app_context():
        from rq import get_current_job

        current = get_current_job()
        bind_log_context(job_id=current.id if current else None)
        try:
            yield
        finally:
            db.session.remove()


def _current_rq_job_id() -> str | None:
    from rq import get_current_job

    current = get_current_job()
    return current.id if current else None


def _finished(job_id: str | None) -> None:
    """The job ran to the end: its outbox row has done its work (kept until now to recover a lost job)."""
    if job_id:
        with Session(db.engine) as session:
            session.execute(delete(JobOutbox).where(JobOutbox.job_id == job_id))
            session.commit()


# --- enqueue ------------------------------------------------------------------------------------
def _spec_of(fn: Callable, values: tuple) -> JobSpec:
    spec: JobSpec = getattr(fn, "spec", None)
    if spec is None:
        raise TypeError(f"{fn!r} is not a @job function")
    for value in values:
        if not isinstance(value, _PRIMITIVES):
            raise TypeError(f"job arguments must be ids or plain values, got {type(value).__name__}")
    return spec


@dataclass(frozen=True)
class Push:
    """A job pushed to RQ without an outbox row (see enqueue_unrecorded); shaped like a JobOutbox row."""

    func: str
    args: list
    job_id: str
    queue: str
    timeout: int
    retry_intervals: tuple[int, ...]
    kwargs: dict = field(default_factory=dict)
    delay_seconds: int = 0


def enqueue_unrecorded(fn: Callable, *args, job_id: str) -> str:
    """Queue `fn(*args)` after commit under a fixed job id, without an outbox row: for work whose own row
    records it, with a sweep that queues it again if this push is lost (a stored Stripe event: see
    covet/webhooks/sweep.py). Saves the outbox's writes on a hot path; without Redis it is `enqueue`."""
    spec = _spec_of(fn, args)
    if not current_app.config.get("REDIS_URL"):
        return enqueue(fn, *args)
    db.session.info.setdefault("covet_pushes", []).append(
        Push(fn.path, list(args), job_id, spec.queue, spec.timeout, spec.retry_intervals))
    return job_id


def enqueue(fn: Callable, *args, delay_seconds: int = 0, **kwargs) -> str:
    """Queue `fn(*args, **kwargs)` to run after the current transaction commits; returns the job id."""
    spec = _spec_of(fn, (*args, *kwargs.values()))
    row = JobOutbox(job_id=uuid.uuid4().hex, func=fn.path, args=list(args), kwargs=kwargs, queue=spec.queue,
                    timeout=spec.timeout, retry_intervals=list(spec.retry_intervals), delay_seconds=delay_seconds)
    db.session.add(row)
    db.session.info.setdefault("covet_jobs", []).append(row)
    return row.job_id


@event.listens_for(Session, "before_commit")
def _collect_jobs(session: Session) -> None:
    rows = session.info.get("covet_jobs")
    if rows:
        session.flush()
        session.info["covet_job_ids"] = [row.id for row in rows]


@event.listens_for(Session, "after_commit")
def _deliver_committed_jobs(session: Session) -> None:
    session.info.pop("covet_jobs", None)
    ids, pushes = session.info.pop("covet_job_ids", None), session.info.pop("covet_pushes", None)
    if (ids or pushes) and has_app_context():
        app = current_app._get_current_object()
        if app.config.get("JOBS_HANDOFF") == "background" and app.config.get("REDIS_URL"):
            from covet.jobs.handoff import submit

            submit(app, ids or [], pushes or [])  # off the request path; sweeps cover a process that dies
            return
        if ids:
            deliver(app, ids)
        if pushes:
            push_unrecorded(app, pushes)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_jobs(session: Session) -> None:
    session.info.pop("covet_pushes", None)
    session.info.pop("covet_jobs", None)
    session.info.pop("covet_job_ids", None)


# --- delivery -----------------------------------------------------------------------------------
def claim(app: Flask, ids: list[int] | None = None, limit: int = 100) -> list[JobOutbox]:
    """Lock pending rows (all given ids, or the due ones) for this process; return them."""
    now = utcnow()
    with Session(db.engine, expire_on_commit=False) as session:
        due = (JobOutbox.status == "pending") & (JobOutbox.locked_until.is_(None) | (JobOutbox.locked_until < now))
        if ids is None:
            ids = list(session.scalars(select(JobOutbox.id).where(due).order_by(JobOutbox.id).limit(limit)))
        if not ids:
            return []
        claimed = session.scalars(update(JobOutbox).where(JobOutbox.id.in_(ids), due)
                                  .values(locked_until=now + LEASE).returning(JobOutbox)).all()
        session.commit()
        return list(claimed)


def deliver(app: Flask, ids: list[int] | None = None) -> int:
    """Hand outbox rows to RQ (or the in-process runner); rows that fail stay for the next flush."""
    rows = claim(app, ids)
    if not rows:
        return 0
    from covet.redis_client import get_redis

    connection = get_redis(app)
    if connection is None:
        from covet.jobs.embedded import run_soon

        for row in rows:
            run_soon(app, row.id)
        return len(rows)
    return _push_to_rq(connection, rows)


def _push_to_rq(connection, rows: list[JobOutbox]) -> int:
    """Push rows to RQ, each queue's immediate jobs in one pipeline; a failed push leaves them for the flush."""
    pushed, failures = _push_grouped(connection, rows)
    failed = {row.id: f"{type(exc).__name__}: {exc}"[:500] for group, exc in failures for row in group}
    _settle(pushed, failed)
    if failed:
        get_logger("covet.jobs").warning("enqueue_deferred", extra={"count": len(failed)})
    return len(pushed)


def push_unrecorded(app: Flask, pushes: list[Push]) -> int:
    """Push jobs that have no outbox row; a failure is only logged (their owners' sweeps queue them again)."""
    from covet.redis_client import get_redis

    pushed, failures = _push_grouped(get_redis(app), pushes)
    for group, exc in failures:  # Redis down
        get_logger("covet.jobs").warning("push_deferred", extra={"count": len(group), "error": str(exc)[:300]})
    return len(pushed)


def _push_grouped(connection, jobs: list) -> tuple[list, list[tuple[list, Exception]]]:
    """Enqueue jobs (outbox rows or Pushes) one group per queue and delay: (pushed, [(group, error)])."""
    groups: dict[tuple[str, int], list] = {}
    for item in jobs:
        groups.setdefault((item.queue, item.delay_seconds or 0), []).append(item)
    pushed, failures = [], []
    for (queue_name, delay), group in groups.items():
        try:
            _enqueue_group(connection, queue_name, delay, group)
            pushed += group
        except Exception as exc:  # noqa: BLE001 - Redis down: the caller keeps or logs the group
            failures.append((group, exc))
    return pushed, failures


def _enqueue_group(connection, queue_name: str, delay: int, rows: list[JobOutbox] | list[Push]) -> None:
    from rq import Queue, Retry

    queue = Queue(queue_name, connection=connection)

    def options(row: JobOutbox | Push) -> dict:
        retry = Retry(max=len(row.retry_intervals), interval=row.retry_intervals) if row.retry_intervals else None
        return dict(args=row.args, kwargs=row.kwargs, job_id=row.job_id, timeout=row.timeout, retry=retry,
                    failure_ttl=7 * 24 * 3600, result_ttl=24 * 3600)

    if delay:
        for row in rows:
            opts = options(row)
            opts["job_timeout"] = opts.pop("timeout")
            queue.enqueue_in(dt.timedelta(seconds=delay), row.func, **opts)
        return
    with connection.pipeline() as pipe:
        queue.enqueue_many([Queue.prepare_data(row.func, **options(row)) for row in rows], pipeline=pipe)
        pipe.execute()


def _settle(done: list[JobOutbox], failed: dict[int, str]) -> None:
    """Mark delivered rows queued (until their job finishes); release failed ones with their error."""
    now = utcnow()
    with Session(db.engine) as session:
        if done:  # a delayed job too is checked soon: RQ holds it as scheduled, or lost it
            session.execute(update(JobOutbox).where(JobOutbox.id.in_([row.id for row in done])).values(
                status="queued", deliveries=JobOutbox.deliveries + 1, locked_until=now + QUEUED_CHECK))
        for row_id, error in failed.items():
            session.execute(update(JobOutbox).where(JobOutbox.id == row_id).values(
                attempts=JobOutbox.attempts + 1, last_error=error,
                locked_until=None))
        session.commit()


def flush_outbox(app: Flask | None = None, limit: int = 500) -> int:
    """Deliver every due outbox row (run by the scheduler, and by `flask covet jobs flush`)."""
    app = app or current_app._get_current_object()
    delivered = 0
    while True:
        count = deliver(app, None) if limit > 0 else 0
        delivered += count
        limit -= 100
        if count == 0 or limit <= 0:
            return delivered
