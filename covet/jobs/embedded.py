"""Embedded mode (no REDIS_URL): outbox jobs run in this process, on one background thread, after commit."""
from __future__ import annotations

import atexit
import datetime as dt
import traceback
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask
from rq.utils import import_attribute
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.jobs.models import JobOutbox
from covet.jobs.progress import current_embedded_job, mark_embedded
from covet.observability import bind_log_context, clear_log_context, get_logger

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="covet-jobs")
_futures: set[Future] = set()
atexit.register(_executor.shutdown, wait=True)


def run_soon(app: Flask, outbox_id: int) -> Future:
    """Run an outbox row on the background thread (the caller's transaction has committed)."""
    future = _executor.submit(_run, app, outbox_id)
    _futures.add(future)
    future.add_done_callback(_futures.discard)
    return future


def wait_for_embedded_jobs(timeout: float = 30) -> None:
    """Block until every job handed to the background thread has finished (tests, CLI commands)."""
    while _futures:
        for future in list(_futures):
            future.result(timeout=timeout)


def _run(app: Flask, outbox_id: int) -> None:
    with app.app_context():
        row = db.session.scalar(select(JobOutbox).where(JobOutbox.id == outbox_id))
        if row is None:
            return
        bind_log_context(job_id=row.job_id)
        token = current_embedded_job.set(row.job_id)
        mark_embedded(row.job_id, "started")
        try:
            import_attribute(row.func)(*row.args, **row.kwargs)
        except Exception as exc:
            db.session.rollback()
            final = _record_failure(row, exc)
            mark_embedded(row.job_id, "failed" if final else "queued")
        else:
            mark_embedded(row.job_id, "finished")
            with Session(db.engine) as session:
                session.execute(delete(JobOutbox).where(JobOutbox.id == outbox_id))
                session.commit()
        finally:
            current_embedded_job.reset(token)
            db.session.remove()
            clear_log_context()


def _record_failure(row: JobOutbox, exc: Exception) -> bool:
    """Count a failure; True when no attempt is left."""
    attempts = row.attempts + 1
    intervals = row.retry_intervals or []
    exhausted = attempts > len(intervals)
    values = {"attempts": attempts, "last_error": "".join(traceback.format_exception(exc))[-4000:]}
    if exhausted:
        values.update(status="failed", locked_until=None)
    else:
        values["locked_until"] = utcnow() + dt.timedelta(seconds=intervals[attempts - 1])
    with Session(db.engine) as session:
        session.execute(update(JobOutbox).where(JobOutbox.id == row.id).values(**values))
        session.commit()
    get_logger("covet.jobs").warning("job_failed", extra={"func": row.func, "attempts": attempts,
                                                          "final": exhausted})
    return exhausted
