"""Embedded mode's scheduler: without Redis there is no RQ scheduler, so one daemon thread per web process
runs the periodic tasks (dispute deadline reminders, stalled emails, the job outbox, cache tags) at their
intervals. Each task is idempotent (reminders are keyed per dispute, window and recipient), so two processes
running it at once send nothing twice. Started on the first request, never by CLI commands or tests."""
from __future__ import annotations

import threading
import time

from flask import Flask

from covet.jobs.periodic import SCHEDULE
from covet.observability import get_logger

TICK_SECONDS = 30
_started: set[int] = set()
_lock = threading.Lock()
log = get_logger(__name__)


def due(last_run: dict[str, float], now: float) -> list[str]:
    """The tasks whose interval has passed since they last ran (all of them on the first tick)."""
    return [name for name, (_, every, _) in SCHEDULE.items() if now - last_run.get(name, float("-inf")) >= every]


def run_due(app: Flask, last_run: dict[str, float], now: float | None = None) -> dict[str, int | None]:
    """Run every due task in an app context; a failing task is logged and retried at its next interval."""
    now = time.time() if now is None else now
    results: dict[str, int | None] = {}
    for name in due(last_run, now):
        last_run[name] = now
        with app.app_context():
            try:
                results[name] = SCHEDULE[name][0]()
            except Exception:  # noqa: BLE001 - one task's failure must not stop the others or the thread
                log.exception("periodic task failed", extra={"task": name})
                results[name] = None
    return results


def _loop(app: Flask) -> None:
    last_run: dict[str, float] = {}
    stop = threading.Event()
    while not stop.is_set():
        run_due(app, last_run)
        stop.wait(TICK_SECONDS)


def start(app: Flask) -> bool:
    """Start this app's scheduler thread once (embedded mode only); False if it is off or already running."""
    if app.config.get("REDIS_URL") or not app.config.get("EMBEDDED_SCHEDULER"):
        return False
    with _lock:
        if id(app) in _started:
            return False
        _started.add(id(app))
    threading.Thread(target=_loop, args=(app,), name="covet-periodic", daemon=True).start()
    return True


def init_ticker(app: Flask) -> None:
    """Start the scheduler with the first request this process serves."""
    @app.before_request
    def _start_ticker() -> None:
        if id(app) not in _started:
            start(app)
