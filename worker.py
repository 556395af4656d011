"""RQ worker: `python worker.py [high default low] [--burst]`, with RQ's scheduler enabled.

Needs REDIS_URL; without it (embedded mode) jobs run in the web process and no worker is needed.
A Redis outage never ends the worker: it waits for Redis with a capped backoff, then books the periodic
jobs again (Redis may have come back empty) and sends again whatever jobs Redis lost (covet.jobs.recovery).
The plain `rq worker -u $REDIS_URL high default low --with-scheduler` works too, without that recovery.
"""
from __future__ import annotations

import argparse
import sys

from covet.jobs import QUEUES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Covet background worker.")
    parser.add_argument("queues", nargs="*", default=list(QUEUES), help="queues, highest priority first")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork per job)")
    args = parser.parse_args(argv)

    from covet import ConfigError, create_app
    from covet.jobs import use_worker_app
    from covet.jobs.runner import make_worker, run_forever
    from covet.redis_client import get_redis

    try:
        app = create_app()
    except ConfigError as exc:
        print(f"covet: configuration error: {exc}", file=sys.stderr)
        return 2
    connection = get_redis(app)
    if connection is None:
        print("covet: REDIS_URL is not set; in embedded mode jobs run in the web process.", file=sys.stderr)
        return 2
    use_worker_app(app)  # created before any fork; each job's work horse drops inherited DB connections
    if args.burst:
        make_worker(app, connection, args.queues, args.simple, watch=False).work(burst=True, with_scheduler=True)
        return 0
    return run_forever(app, connection, args.queues, args.simple)


if __name__ == "__main__":
    sys.exit(main())
