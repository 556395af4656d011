"""Hand committed outbox rows to RQ from a thread of the web process, in batches, off the request path.

A request that enqueues a job (a Stripe webhook's acknowledgement, say) commits its outbox row and returns;
this thread claims the rows and pushes them to RQ, many per round trip. If the process dies first, the rows
are still pending in the database and the scheduler's outbox flush (every 30 s) delivers them: the outbox,
not this thread, is what makes delivery certain. Used when JOBS_HANDOFF is "background" (the default
outside tests); "inline" delivers in the request, after its commit."""
from __future__ import annotations

import atexit
import os
import queue
import threading

from flask import Flask

from covet.observability import get_logger

BATCH = 200  # outbox ids per delivery round
_state: dict = {}
_lock = threading.Lock()


def submit(app: Flask, ids: list[int]) -> None:
    """Queue these committed outbox ids for delivery by this process's hand-off thread."""
    _inbox(app).put(ids)


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
        ids, taken = list(inbox.get()), 1
        while len(ids) < BATCH:
            try:
                ids += inbox.get_nowait()
            except queue.Empty:
                break
            taken += 1
        _deliver(app, ids)
        for _ in range(taken):
            inbox.task_done()


def wait_idle() -> None:
    """Block until everything submitted in this process so far has been handed to RQ (tests, shutdown)."""
    inbox = _state.get("inbox")
    if inbox is not None and _state.get("pid") == os.getpid():
        inbox.join()


def _deliver(app: Flask, ids: list[int]) -> None:
    from covet.jobs.core import deliver

    try:
        with app.app_context():
            deliver(app, ids)
    except Exception as exc:  # the rows stay pending: the outbox flush delivers them
        get_logger("covet.jobs").warning("handoff_deferred", extra={"count": len(ids),
                                                                    "error": f"{type(exc).__name__}: {exc}"[:300]})


def drain() -> None:
    """At exit: deliver what is still queued here, so nothing waits for the 30 s outbox flush."""
    inbox, app = _state.get("inbox"), _state.get("app")
    if inbox is None or _state.get("pid") != os.getpid():
        return
    ids: list[int] = []
    while True:
        try:
            ids += inbox.get_nowait()
        except queue.Empty:
            break
    if ids:
        _deliver(app, ids)


atexit.register(drain)
