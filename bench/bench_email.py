"""Emails per second through an SMTP sink with one worker (RQ SimpleWorker, real Redis).

    REDIS_URL=redis://127.0.0.1:6379/15 [DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres] \
        .venv/bin/python bench/bench_email.py [--emails 500]

Builds a throwaway database (PostgreSQL when DATABASE_URL is set, else SQLite), queues N distinct
order confirmations, and times one worker draining the queue into an aiosmtpd sink on loopback.
Reported, never asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import free_port, make_database  # noqa: E402 - needs the path above


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 OK"


def run(emails: int, rounds: int) -> None:
    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade
    from redis import Redis
    from rq import Queue, SimpleWorker

    from covet import create_app
    from covet.extensions import db
    from covet.notifications.catalog import TEMPLATES
    from covet.notifications.services import queue_email

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    url, drop = make_database()
    os.environ["COVET_INSTANCE_PATH"] = tempfile.mkdtemp()
    app = create_app({"STARTUP_CHECKS": False}, environ={
        "COVET_ENV": "testing", "SECRET_KEY": "b" * 40, "DATABASE_URL": url, "REDIS_URL": os.environ["REDIS_URL"],
        "SMTP_URL": f"smtp://127.0.0.1:{port}"})
    connection = Redis.from_url(os.environ["REDIS_URL"])
    rates = []
    try:
        with app.app_context():
            upgrade()
            for round_no in range(rounds):
                Queue("high", connection=connection).empty()
                for n in range(emails):
                    queue_email("order_confirmation", f"c{n}@example.com", TEMPLATES["order_confirmation"].demo,
                                f"bench:{round_no}:{n}:{uuid.uuid4().hex}")
                db.session.commit()
                before = sink.count
                started = time.perf_counter()
                SimpleWorker([Queue("high", connection=connection)], connection=connection).work(
                    burst=True, logging_level="WARNING")
                elapsed = time.perf_counter() - started
                rates.append((sink.count - before) / elapsed)
            db.session.remove()
            db.engine.dispose()
    finally:
        controller.stop()
        drop()
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print("\n| database | emails/round | rounds | median emails/s | min | max |")
    print("|---|---|---|---|---|---|")
    print(f"| {backend} | {emails} | {rounds} | {statistics.median(rates):.0f} | {min(rates):.0f} | {max(rates):.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        print("bench_email: set REDIS_URL (e.g. redis://127.0.0.1:6379/15)", file=sys.stderr)
        return 2
    run(args.emails, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
