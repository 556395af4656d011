"""Admin actions on jobs: retry or delete a failed job (RQ) or a failed outbox row (embedded mode)."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, update

from covet.audit.services import Actor, record
from covet.extensions import db
from covet.jobs.core import QUEUES
from covet.jobs.models import JobOutbox


class JobNotFoundError(LookupError):
    """No failed job with that id."""


def _failed_registry_of(connection, job_id: str):
    from rq import Queue
    from rq.registry import FailedJobRegistry

    for name in QUEUES:
        registry = FailedJobRegistry(queue=Queue(name, connection=connection))
        if job_id in registry:
            return registry
    raise JobNotFoundError(job_id)


def retry_failed_job(connection, job_id: str, actor: Actor) -> None:
    """Put a failed RQ job back on its queue."""
    registry = _failed_registry_of(connection, job_id)
    registry.requeue(job_id)
    record(actor, "job.retried", "job", job_id)
    db.session.commit()


def delete_failed_job(connection, job_id: str, actor: Actor) -> None:
    """Remove a failed RQ job for good."""
    registry = _failed_registry_of(connection, job_id)
    registry.remove(job_id, delete_job=True)
    record(actor, "job.deleted", "job", job_id)
    db.session.commit()


def retry_outbox_row(row_id: int, actor: Actor) -> None:
    """Give a failed outbox job a fresh set of attempts; it goes out after this commit."""
    from covet.jobs.core import deliver

    changed = db.session.execute(update(JobOutbox).where(JobOutbox.id == row_id, JobOutbox.status == "failed")
                                 .values(status="pending", attempts=0, deliveries=0, locked_until=None,
                                         job_id=uuid.uuid4().hex)).rowcount  # RQ may hold the old id
    if not changed:
        raise JobNotFoundError(str(row_id))
    record(actor, "job.retried", "job_outbox", row_id)
    db.session.commit()
    from flask import current_app

    deliver(current_app._get_current_object(), [row_id])


def delete_outbox_row(row_id: int, actor: Actor) -> None:
    if not db.session.execute(delete(JobOutbox).where(JobOutbox.id == row_id, JobOutbox.status == "failed")).rowcount:
        raise JobNotFoundError(str(row_id))
    record(actor, "job.deleted", "job_outbox", row_id)
    db.session.commit()
