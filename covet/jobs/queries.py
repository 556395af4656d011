"""Read-only views of the queues for the admin: depth, workers, scheduled and failed jobs, the outbox."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from covet.extensions import db
from covet.jobs.core import QUEUES
from covet.jobs.models import JobOutbox


@dataclass
class FailedJob:
    id: str
    queue: str
    func: str
    args: str
    ended_at: dt.datetime | None
    error: str


def queue_overview(connection) -> list[dict]:
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    rows = []
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        rows.append({"name": name, "depth": queue.count, "started": StartedJobRegistry(queue=queue).count,
                     "scheduled": ScheduledJobRegistry(queue=queue).count,
                     "failed": FailedJobRegistry(queue=queue).count})
    return rows


def workers(connection) -> list[dict]:
    from rq import Worker

    return [{"name": w.name, "state": w.get_state(), "queues": ", ".join(w.queue_names()),
             "job": w.get_current_job_id(), "heartbeat": w.last_heartbeat} for w in Worker.all(connection=connection)]


def scheduled_jobs(connection, limit: int = 50) -> list[dict]:
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    rows = []
    for name in QUEUES:
        registry = ScheduledJobRegistry(queue=Queue(name, connection=connection))
        for job_id in registry.get_job_ids(0, limit - 1):
            rows.append({"id": job_id, "queue": name, "at": registry.get_scheduled_time(job_id)})
    return sorted(rows, key=lambda r: r["at"])[:limit]


def failed_jobs(connection, limit: int = 50) -> list[FailedJob]:
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    found = []
    for name in QUEUES:
        ids = FailedJobRegistry(queue=Queue(name, connection=connection)).get_job_ids(0, limit - 1)
        for job in Job.fetch_many(ids, connection=connection):
            if job is None:
                continue
            result = job.latest_result()
            error = (result.exc_string if result and result.exc_string else job.exc_info) or ""
            found.append(FailedJob(job.id, name, job.func_name, ", ".join(map(repr, job.args)), job.ended_at,
                                   error))
    return sorted(found, key=lambda j: j.ended_at or dt.datetime.min, reverse=True)[:limit]


def outbox_summary() -> dict:
    counts = dict(db.session.execute(select(JobOutbox.status, func.count()).group_by(JobOutbox.status)).all())
    failed = db.session.scalars(select(JobOutbox).where(JobOutbox.status == "failed")
                                .order_by(JobOutbox.id.desc()).limit(50)).all()
    return {"pending": counts.get("pending", 0), "failed": counts.get("failed", 0), "failed_rows": failed}
