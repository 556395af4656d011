"""RQ worker: `python worker.py [high default low] [--burst]`, with RQ's scheduler enabled.

Needs REDIS_URL; without it (embedded mode) jobs run in the web process and no worker is needed.
The plain `rq worker -u $REDIS_URL high default low --with-scheduler` works too: every job sets up
its own app context.
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

    from rq import Queue, SimpleWorker, Worker

    from covet import ConfigError, create_app
    from covet.jobs import use_worker_app
    from covet.jobs.periodic import book_all
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
    if not args.burst:
        book_all(connection)
    worker_class = SimpleWorker if args.simple else Worker
    worker = worker_class([Queue(name, connection=connection) for name in args.queues], connection=connection)
    worker.work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
