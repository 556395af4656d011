"""Background jobs: queues high / default / low on RQ, enqueued only after the transaction commits.

    @job(queue="high", timeout=30, retry=(10, 60, 300))
    def deliver_email(outbox_id): ...

    enqueue(deliver_email, outbox.id)   # written in this transaction, delivered after commit
"""
from covet.jobs.core import QUEUES, JobSpec, deliver, enqueue, flush_outbox, job, use_worker_app, worker_app

__all__ = ["QUEUES", "JobSpec", "deliver", "enqueue", "flush_outbox", "job", "use_worker_app", "worker_app"]
