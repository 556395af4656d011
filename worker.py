"""RQ worker: `python worker.py [high default low] [--burst]`, scheduler enabled.

Needs REDIS_URL; without it (embedded mode) jobs run in-process and no worker is needed.
"""
from __future__ import annotations

import argparse
import sys

DEFAULT_QUEUES = ("high", "default", "low")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Covet background worker.")
    parser.add_argument("queues", nargs="*", default=list(DEFAULT_QUEUES), help="queues, highest priority first")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)

    from redis import Redis
    from rq import Queue, Worker

    from covet import ConfigError, create_app

    try:
        app = create_app()
    except ConfigError as exc:
        print(f"covet: configuration error: {exc}", file=sys.stderr)
        return 2
    url = app.config.get("REDIS_URL")
    if not url:
        print("covet: REDIS_URL is not set; in embedded mode jobs run in the web process.", file=sys.stderr)
        return 2
    connection = Redis.from_url(url)
    worker = Worker([Queue(name, connection=connection) for name in args.queues], connection=connection)
    with app.app_context():
        worker.work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
