"""Run calls at the same moment, each in its own thread, app context and database session (like requests)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from covet.extensions import db


def at_once(app, calls: list[Callable[[], object]]) -> list[object]:
    """Release every call together; return what each returned or raised, in the order given."""
    barrier, outcomes = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                outcomes[index] = call()
            except Exception as exc:  # handed back: the test decides whether it is a failure
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes
