"""Enqueue-to-purge latency of the storefront cache invalidation, on real Redis and RQ.

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/bench_invalidation.py [--runs 30] [--pages 50]

Each run caches N pages for one product, calls request_invalidation and commits, moves the scheduled job
off RQ's scheduler onto a private queue (the coalescing delay is by design: reported apart, not waited for),
runs one SimpleWorker burst and checks the pages are gone. The outbox lives in a throwaway SQLite file, or
in a throwaway database next to DATABASE_URL when that is set. Numbers are reported, never asserted.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def throwaway_postgres(base_url: str, name: str, drop: bool = False) -> str:
    """Create (or drop) a database next to base_url's; return its URL."""
    from sqlalchemy import create_engine, text

    parts = urlsplit(base_url)
    admin = create_engine(urlunsplit(("postgresql+psycopg", parts.netloc, "/postgres", "", "")),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def build_app(workdir: str, database_url: str):
    from flask_migrate import upgrade

    from covet import create_app

    os.environ["COVET_INSTANCE_PATH"] = workdir
    environ = {"COVET_ENV": "testing", "SECRET_KEY": "b" * 40, "REDIS_URL": os.environ["REDIS_URL"],
               "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    app = create_app({"STARTUP_CHECKS": False, "CACHE_KEY_PREFIX": f"covet:bench-{uuid.uuid4().hex[:8]}:"},
                     environ=environ)
    with app.app_context():
        upgrade()
    return app


def one_run(product_id: int, pages: int, queue) -> dict[str, float]:
    """Cache, invalidate, commit, run the job; the stage timings in ms."""
    from rq import SimpleWorker
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from covet.extensions import db
    from covet.storefront.cache import cache_redis, page_key, request_invalidation, store_page

    client = cache_redis()
    paths = [f"/p/{product_id}/v/{n}" for n in range(pages)]
    for path in paths:
        store_page(path, "<html>" + "x" * 2000, [f"product:{product_id}", "listing"], 300)
    started = time.perf_counter()
    job_id = request_invalidation([f"product:{product_id}"])
    db.session.commit()  # the outbox row goes to RQ's scheduler here
    committed = time.perf_counter()
    if job_id is None:
        raise SystemExit("no run scheduled: a previous run still holds the coalescing flag")
    job = Job.fetch(job_id, connection=client)
    ScheduledJobRegistry("default", connection=client).remove(job)  # instead of waiting out the delay
    queue.enqueue_job(job)
    moved = time.perf_counter()
    # No scheduler: the job was moved by hand, and a burst worker's scheduler adds ~1 s to some runs (seen here).
    SimpleWorker([queue], connection=client).work(burst=True, with_scheduler=False, logging_level="WARNING")
    done = time.perf_counter()
    if client.exists(*[page_key(path) for path in paths]):
        raise SystemExit(f"run for product {product_id}: pages still cached (did another process clear RQ's "
                         "or covet:* keys in this Redis database meanwhile?)")
    timings = {"request + commit (outbox -> RQ)": committed - started, "worker burst": done - moved,
               "job body": job_seconds(client, job_id),
               "end to end, without the delay": (committed - started) + (done - moved)}
    return {stage: seconds * 1000 for stage, seconds in timings.items()}


def job_seconds(client, job_id: str) -> float:
    """How long the job itself ran, by RQ's clock; NaN when someone else cleared RQ's keys meanwhile."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=client)
    except NoSuchJobError:
        return float("nan")
    seconds = (job.ended_at - job.started_at).total_seconds()
    job.delete()
    client.delete(f"rq:results:{job_id}")
    return seconds


def report(rows: list[dict[str, float]], pages: int) -> None:
    from covet.storefront.cache import COALESCE_MS

    print(f"\ncache invalidation, {len(rows)} runs, {pages} cached pages purged per run (ms)")
    print(f"{'stage':<34}{'runs':>6}{'p50':>9}{'p95':>9}{'max':>9}")
    for stage in rows[0]:
        values = [row[stage] for row in rows if row[stage] == row[stage]]  # NaN: sample lost
        print(f"{stage:<34}{len(values):>6}{percentile(values, 50):>9.1f}{percentile(values, 95):>9.1f}"
              f"{max(values):>9.1f}")
    print(f"{'coalescing delay (by design)':<34}{'':>6}{COALESCE_MS:>9}  + up to 1000 for RQ's scheduler poll")
    print("worker burst includes a SimpleWorker's start-up and shutdown; a running worker skips both.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pages", type=int, default=50, help="cached pages per product")
    args = parser.parse_args(argv)
    if not os.environ.get("REDIS_URL"):
        print("bench_invalidation: set REDIS_URL (e.g. redis://127.0.0.1:6379/15); it measures RQ on real Redis.",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    pg_base, pg_name = os.environ.get("DATABASE_URL"), f"covet_bench_{os.getpid()}"
    with tempfile.TemporaryDirectory() as workdir:
        database_url = throwaway_postgres(pg_base, pg_name) if pg_base else f"sqlite:///{workdir}/bench.db"
        try:
            rows = measure(build_app(workdir, database_url), args.runs, args.pages)
        finally:
            if pg_base:
                throwaway_postgres(pg_base, pg_name, drop=True)
    print(f"database: {'PostgreSQL' if pg_base else 'SQLite'}; redis: {os.environ['REDIS_URL']}")
    report(rows, args.pages)
    return 0


def measure(app, runs: int, pages: int) -> list[dict[str, float]]:
    from rq import Queue

    from covet.extensions import db
    from covet.storefront.cache import cache_redis, key

    with app.app_context():
        client = cache_redis()
        queue = Queue(f"covet-bench-{uuid.uuid4().hex[:8]}", connection=client)
        try:
            one_run(0, pages, queue)  # warm-up: imports, connections, first compiled statements
            return [one_run(product_id, pages, queue) for product_id in range(1, runs + 1)]
        finally:
            queue.delete(delete_jobs=True)
            leftovers = list(client.scan_iter(key("*"), count=1000))
            if leftovers:
                client.delete(*leftovers)
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
