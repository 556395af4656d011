"""The worker process (worker.py): RQ's worker, made to outlive Redis outages.

RQ quits its work loop on most Redis errors, and a Redis that comes back empty has lost the periodic jobs'
bookings and every queued job. Here the loop is restarted with a capped backoff, and each heartbeat checks
a marker key that only a booking sets: when it is missing (Redis restarted with an empty dataset), the
periodic jobs are booked again and lost jobs are sent again (covet.jobs.recovery)."""
from __future__ import annotations

import signal
import time

from flask import Flask

from covet.observability import get_logger

MAX_BACKOFF = 30  # seconds between attempts to reach Redis again
WORKER_TTL = 35  # RQ heartbeats (and so checks the marker) every WORKER_TTL - 15 seconds when idle
BOOKED_KEY = "covet:periodic:booked"

log = get_logger("covet.worker")


def make_worker(app: Flask, connection, queues: list[str], simple: bool = False, watch: bool = True):
    """An RQ worker on `queues`; with `watch`, it re-books and recovers when Redis came back empty."""
    from rq import Queue, SimpleWorker, Worker

    base = SimpleWorker if simple else Worker

    class CovetWorker(base):
        def heartbeat(self, *args, **kwargs):
            super().heartbeat(*args, **kwargs)
            if watch and not self.connection.exists(BOOKED_KEY):
                log.warning("redis_came_back_empty", extra={"worker": self.name})
                on_connect(app, self.connection)

    return CovetWorker([Queue(name, connection=connection) for name in queues], connection=connection,
                       worker_ttl=WORKER_TTL)


def on_connect(app: Flask, connection) -> bool:
    """Book the periodic jobs and send again lost ones: at start, and whenever Redis lost its data."""
    from covet.jobs.periodic import book_all, recover

    book_all(connection)
    try:
        with app.app_context():
            recover()
    except Exception as exc:  # the database may be down too: the periodic sweep tries again
        log.warning("recovery_deferred", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
    connection.set(BOOKED_KEY, "1")
    return True


def _exit_on_signal() -> None:
    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run_forever(app: Flask, connection, queues: list[str], simple: bool = False) -> int:
    """Work until SIGTERM/SIGINT; when Redis goes away, wait for it and start a fresh RQ worker."""
    backoff = 1
    while True:
        worker = None
        try:
            connection.ping()
            on_connect(app, connection)
            backoff = 1
            worker = make_worker(app, connection, queues, simple)
            worker.work(with_scheduler=True)
        except Exception as exc:  # Redis unreachable, or dropped in the worker's start or teardown
            log.warning("redis_unreachable", extra={"error": f"{type(exc).__name__}: {exc}"[:300],
                                                    "retry_in_s": backoff})
        if worker is not None and getattr(worker, "_shutdown_requested_date", None):
            return 0  # SIGTERM/SIGINT: RQ let the current job finish, then stopped
        _exit_on_signal()  # between RQ workers, a stop request ends the process at once
        time.sleep(backoff)  # waiting for a service to come back, not timing anything
        backoff = min(backoff * 2, MAX_BACKOFF)
