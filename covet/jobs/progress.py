"""How far a long job has got: done / total / message, readable by the page that started it.

With Redis it lives in the RQ job's meta; in embedded mode in this process (jobs run here too).
"""
from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import asdict, dataclass

from covet.redis_client import get_redis

# The job id while an embedded job runs (RQ jobs know their own id).
current_embedded_job: ContextVar[str | None] = ContextVar("current_embedded_job", default=None)
_local: dict[str, dict] = {}
_lock = threading.Lock()
OWNER_TTL = 24 * 3600


@dataclass
class Progress:
    job_id: str
    status: str  # queued | started | finished | failed | unknown
    done: int = 0
    total: int = 0
    message: str = ""
    result_url: str | None = None

    @property
    def running(self) -> bool:
        return self.status in ("queued", "started")

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def report_progress(done: int, total: int, message: str = "", result_url: str | None = None) -> None:
    """Call from inside a job, as often as useful (each call is one small write)."""
    values = {"done": done, "total": total, "message": message, "result_url": result_url}
    embedded_id = current_embedded_job.get()
    if embedded_id is not None:
        with _lock:
            _local.setdefault(embedded_id, {}).update(values, status="started")
        return
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        job.meta["progress"] = values
        job.save_meta()


def mark_embedded(job_id: str, status: str) -> None:
    with _lock:
        _local.setdefault(job_id, {})["status"] = status


def remember_owner(job_id: str, user_id: int) -> None:
    """Only the user who started a job (or an admin) may watch it."""
    connection = get_redis()
    if connection is None:
        with _lock:
            _local.setdefault(job_id, {})["owner"] = user_id
    else:
        connection.set(f"covet:job-owner:{job_id}", user_id, ex=OWNER_TTL)


def owner_of(job_id: str) -> int | None:
    connection = get_redis()
    if connection is None:
        return _local.get(job_id, {}).get("owner")
    value = connection.get(f"covet:job-owner:{job_id}")
    return int(value) if value else None


def job_progress(job_id: str) -> Progress:
    """The current state of a job started from a page."""
    connection = get_redis()
    if connection is None:
        state = dict(_local.get(job_id, {}))
        state.pop("owner", None)
        return Progress(job_id, **{"status": "queued", **state}) if state else Progress(job_id, "unknown")
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return Progress(job_id, "unknown")
    raw = job.get_status(refresh=False)
    raw = getattr(raw, "value", raw)
    status = {"scheduled": "queued", "deferred": "queued", "stopped": "failed", "canceled": "failed"}.get(raw, raw)
    meta = job.get_meta(refresh=False).get("progress", {})
    return Progress(job_id, status, **meta)


def progress_as_dict(progress: Progress) -> dict:
    return asdict(progress) | {"percent": progress.percent, "running": progress.running}

