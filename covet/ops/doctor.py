"""`flask covet doctor`: check every configured service and print the remedy for each failure."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from covet.config import describe_backends
from covet.ops import checks


def run_doctor(app: Flask, echo: Callable[[str], None]) -> int:
    """Print one line per check; return the process exit code (1 if a required service fails)."""
    for name, backend in describe_backends(app.config).items():
        echo(f"{name:<9} {backend}")
    results = [checks.check_database(app), checks.check_redis(app), checks.check_storage(app),
               checks.check_stripe(app), checks.check_queues(app)]
    failed = False
    for r in results:
        mark = {"ok": "ok  ", "down": "FAIL"}.get(r.status, "--  ")
        failed |= r.status == "down" and r.required
        echo(f"[{mark}] {r.name:<9} {r.status:<15} {r.detail}")
    return 1 if failed else 0
