"""Hand committed outbox rows (and rowless pushes) to RQ from a thread of the web process, in batches, off the
request path.

A request that enqueues a job (a Stripe webhook's acknowledgement, say) commits its outbox row and returns;
this thread claims the rows and pushes them to RQ, many per round trip. If the process dies first, the rows
are still pending in the database and the scheduler's outbox flush (every 30 s) delivers them: the outbox,
not this thread, is what makes delivery certain. Used when JOBS_HANDOFF is "background" (the default
outside tests); "inline" delivers in the request, after its commit."""
from __future__ import annotations

import atexit
import os
import queue
import sys
import threading

from flask import Flask

from covet.observability import get_logger

BATCH = 200  # outbox ids per delivery round
_state: dict = {}
_lock = threading.Lock()


def submit(app: Flask, ids: list[int], pushes: list | None = None) -> None:
    """Queue committed outbox ids (and jobs without a row, see core.enqueue_unrecorded) for this process's
    hand-off thread."""
    _inbox(app).put((list(ids), list(pushes or [])))


def _inbox(app: Flask) -> queue.Queue:
    with _lock:
        if _state.get("pid") != os.getpid():  # first use in this (possibly forked) process
            inbox: queue.Queue = queue.Queue()
            thread = threading.Thread(target=_run, args=(app, inbox), name="covet-handoff", daemon=True)
            _state.update(pid=os.getpid(), inbox=inbox, thread=thread, app=app)
            thread.start()
        return _state["inbox"]


def _run(app: Flask, inbox: queue.Queue) -> None:
    while True:
        ids, pushes, taken = _take(inbox, inbox.get(), BATCH)
        _deliver(app, ids, pushes)
        for _ in range(taken):
            inbox.task_done()


def _take(inbox: queue.Queue, first: tuple[list, list], limit: int) -> tuple[list, list, int]:
    """`first` and whatever else is waiting, up to `limit` jobs: (outbox ids, pushes, items taken)."""
    ids, pushes = first
    taken = 1
    while len(ids) + len(pushes) < limit:
        try:
            more_ids, more_pushes = inbox.get_nowait()
        except queue.Empty:
            break
        ids, pushes, taken = ids + more_ids, pushes + more_pushes, taken + 1
    return ids, pushes, taken


def wait_idle() -> None:
    """Block until everything submitted in this process so far has been handed to RQ (tests, shutdown)."""
    inbox = _state.get("inbox")
    if inbox is not None and _state.get("pid") == os.getpid():
        inbox.join()


def _deliver(app: Flask, ids: list[int], pushes: list) -> None:
    from covet.jobs.core import deliver, push_unrecorded

    try:
        with app.app_context():
            if pushes:
                push_unrecorded(app, pushes)
            if ids:
                deliver(app, ids)
    except Exception as exc:  # the rows stay pending: the outbox flush delivers them
        get_logger("covet.jobs").warning("handoff_deferred", extra={"count": len(ids),
                                                                    "error": f"{type(exc).__name__}: {exc}"[:300]})


def drain() -> None:
    """At exit: deliver what is still queued here, so nothing waits for the 30 s outbox flush."""
    inbox, app = _state.get("inbox"), _state.get("app")
    if inbox is None or _state.get("pid") != os.getpid():
        return
    try:
        ids, pushes, _ = _take(inbox, inbox.get_nowait(), sys.maxsize)
    except queue.Empty:
        return
    _deliver(app, ids, pushes)

atexit.register(drain)
