"""Stripe webhooks: acknowledgement times at a steady offered rate under gunicorn, then one worker's drain rate.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/bench_webhooks.py [--rate 200 | --rates 100,200,400] [--seconds 15] \
        [--workers 2] [--threads 1] [--no-drain]

Throwaway database, an unpaid order per event; signed payment_intent.succeeded events (~2 KB) sent on a fixed
timetable from a thread pool (open loop: a slow answer never lowers the offered rate; times count from each
request's scheduled instant); then one RQ SimpleWorker drains the high queue here. Reported, never asserted.
The rate limit stays on at its default (WEBHOOK_RATE_LIMIT, 6000/minute per client address): gunicorn runs as
behind a load balancer (PROXY_COUNT=1), the events come from twelve X-Forwarded-For addresses as Stripe's come from
about a dozen. REDIS_URL: a database no test run uses (their fixtures empty rq:*, this run's jobs with them).
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_editor import percentile  # noqa: E402 - needs the path above
from bench.support import free_port, make_database  # noqa: E402

RUN = uuid.uuid4().hex[:8]
SECRET = f"whsec_bench_{RUN}"
SOURCES = [f"192.0.2.{n}" for n in range(10, 22)]  # TEST-NET-1 stand-ins for Stripe's webhook addresses
WARMUP = 40
OVERRIDES = {"STARTUP_CHECKS": False, "RATELIMIT_KEY_PREFIX": f"covet-bench-{RUN}"}
ENVIRON = {"COVET_ENV": "production", "SECRET_KEY": f"bench-{RUN}-" + "k" * 32, "LOG_LEVEL": "WARNING",
           "STRIPE_WEBHOOK_SECRET": SECRET, "PROXY_COUNT": "1"}
EVENT_JOB = "covet.webhooks.jobs.process_stripe_event"
NULL_FIELDS = ["application", "application_fee_amount", "canceled_at", "cancellation_reason", "invoice", "source",
               "last_payment_error", "next_action", "on_behalf_of", "processing", "review", "setup_future_usage"]


def build_orders(count: int) -> list[tuple[int, str, int]]:
    """A store, a variant with plenty of stock and `count` unpaid orders: [(id, number, total)]."""
    from covet.catalog.models import Product, Variant
    from covet.extensions import db
    from covet.orders.models import Order, OrderLine
    from covet.stores.models import Store

    store = Store(name="Bench", slug="bench", currency="eur")
    db.session.add(store)
    db.session.flush()
    variant = Variant(product=Product(store_id=store.id, title="Silk Scarf", slug="silk-scarf", status="active"),
                      store_id=store.id, sku="SCARF-1", price_amount=5000, currency="eur", stock_on_hand=10_000_000)
    db.session.add(variant)
    db.session.flush()
    orders = [Order(number=f"CV-B{n:06d}", email=f"shopper{n}@example.com", currency="eur", total_amount=5000,
                    subtotal_amount=5000, customer_name="Olivia Bench",
                    lines=[OrderLine(store_id=store.id, variant_id=variant.id, product_title="Silk Scarf",
                                     variant_title="Default", sku="SCARF-1", unit_price_amount=5000, quantity=1)])
              for n in range(count)]
    db.session.add_all(orders)
    db.session.commit()
    return [(o.id, o.number, o.total_amount) for o in orders]


def intent_event(order_id: int, number: str, amount: int) -> dict:
    """A payment_intent.succeeded shaped like Stripe's (API 2024-06-20), about 2 KB."""
    now, pi = int(time.time()), f"pi_{uuid.uuid4().hex[:24]}"
    intent = dict.fromkeys(NULL_FIELDS) | {
        "id": pi, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": amount, "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "capture_method": "automatic_async", "client_secret": f"{pi}_secret_{RUN}", "confirmation_method": "automatic",
        "created": now - 5, "currency": "eur", "customer": "cus_Bench1234", "description": f"Covet order {number}",
        "latest_charge": f"ch_{uuid.uuid4().hex[:24]}", "livemode": False, "payment_method_types": ["card", "link"],
        "metadata": {"order_id": str(order_id), "order_number": number}, "payment_method": f"pm_{uuid.uuid4().hex}",
        "payment_method_configuration_details": {"id": "pmc_1PbenchConfig", "parent": None},
        "payment_method_options": {"card": {"installments": None, "mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic"}, "link": {"persistent_token": None}},
        "receipt_email": f"{number}@example.com", "statement_descriptor": None, "statement_descriptor_suffix": "COVET",
        "status": "succeeded", "transfer_data": None,
        "shipping": {"address": {"city": "Lyon", "country": "FR", "line1": "12 rue de la République", "state": None,
                                 "line2": "Bâtiment B", "postal_code": "69002"}, "carrier": None, "name": "O. Bench",
                     "phone": "+33 4 72 00 00 00", "tracking_number": None}, "transfer_group": number}
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "api_version": "2024-06-20", "created": now,
            "data": {"object": intent}, "livemode": False, "pending_webhooks": 1, "type": "payment_intent.succeeded",
            "request": {"id": f"req_{uuid.uuid4().hex[:14]}", "idempotency_key": str(uuid.uuid4())}}


def signed_requests(orders) -> list[tuple[bytes, dict]]:
    """Body and headers per order, signed now (Stripe's tolerance is 300 s; the run takes far less)."""
    import stripe

    bodies = [json.dumps(intent_event(*order)).encode() for order in orders]
    return [(body, {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET),
                    "Content-Type": "application/json", "X-Forwarded-For": SOURCES[n % len(SOURCES)]})
            for n, body in enumerate(bodies)]


def start_gunicorn(database_url: str, redis_url: str, workdir: str, workers: int, threads: int = 1):
    """gunicorn -w N (gthread with `threads` > 1) on a free loopback port, built as wsgi.py builds it plus
    OVERRIDES; waits for health."""
    from covet.config import ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(ENVIRON, DATABASE_URL=database_url, REDIS_URL=redis_url, COVET_INSTANCE_PATH=workdir)
    port, log = free_port(), Path(workdir) / "gunicorn.log"
    threading = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else []
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), *threading,
                             "-b", f"127.0.0.1:{port}", f"covet:create_app({OVERRIDES!r})"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).status == 200:
                return proc, port
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-2000:]}")


def send(port: int, body: bytes, headers: dict, due: float) -> tuple[int, float, float, float]:
    """(status, due, started, ended) of one POST on a new connection, as Stripe's are; status 0: no answer."""
    started, status, conn = time.perf_counter(), 0, http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    with contextlib.suppress(OSError), contextlib.closing(conn) as c:
        c.request("POST", "/webhooks/stripe", body, headers)
        response = c.getresponse()
        status, _ = response.status, response.read()
    return status, due, started, time.perf_counter()


def fire(port: int, batch: list[tuple[bytes, dict]], rate: float, threads: int = 1024) -> tuple[list, float]:
    """Open loop: request n is due at start + n/rate whatever happened to the others; (results, start, CPU)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        start, cpu = time.perf_counter() + 0.2, time.process_time()
        futures = []
        for n, (body, headers) in enumerate(batch):
            due = start + n / rate
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            futures.append(pool.submit(send, port, body, headers, due))
        results = [f.result() for f in futures]
        return results, start, (time.process_time() - cpu) / (max(r[3] for r in results) - start)


def drain(app, connection) -> tuple[list[tuple[str, str, float, float]], str, dict]:
    """One SimpleWorker empties the high queue (events, then the emails and transfers they queued)."""
    from rq import Queue, SimpleWorker
    from sqlalchemy import func, select

    from covet.extensions import db
    from covet.jobs import use_worker_app
    from covet.webhooks.models import StripeEvent

    timings = []

    class TimedWorker(SimpleWorker):
        def perform_job(self, job, queue):
            started = time.perf_counter()
            try:
                return super().perform_job(job, queue)
            finally:
                timings.append((job.id, job.func_name, started, time.perf_counter()))

    use_worker_app(app)
    worker = TimedWorker([Queue("high", connection=connection)], connection=connection)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the console mail backend prints
        worker.work(burst=True, logging_level="WARNING")
    with app.app_context():
        states = dict(db.session.execute(select(StripeEvent.status, func.count()).group_by(StripeEvent.status)).all())
    return timings, worker.key, states


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}\n\n| {' | '.join(header)} |\n|{'---|' * len(header)}")
    print("\n".join(f"| {' | '.join(row)} |" for row in rows))


def spread(values: list[float]) -> list[str]:
    return [f"{percentile(values, pct):.1f}" for pct in (50, 95, 99)] + [f"{max(values):.1f}"]


def ack_report(results, start: float, rate: float, server: str, body_bytes: float, client_cpu: float) -> None:
    acked, began = [r for r in results if r[0] == 200], [r[2] for r in results]
    if not acked:
        raise SystemExit(f"no request was acknowledged: {sorted({r[0] for r in results})}")
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(Counter(r[0] for r in results).items()))
    print(f"\nEnvironment: PostgreSQL + Redis on this host; gunicorn {server}; {os.cpu_count()} CPUs "
          f"shared with the load generator; Python {sys.version.split()[0]}; event body {body_bytes / 1024:.1f} KB")
    table(f"Acknowledgement, POST /webhooks/stripe, offered {rate:.0f}/s for {len(results) / rate:.0f} s "
          f"(open loop; answers {answers})", ["measured from", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms"],
          [[label, str(len(acked)), *spread(values)] for label, values in (
              ("scheduled send", [(r[3] - r[1]) * 1000 for r in acked]),
              ("actual send", [(r[3] - r[2]) * 1000 for r in acked]))])
    table("Rates", ["offered /s", "sent /s", "acknowledged /s", "worst send lag ms", "load generator CPU"],
          [[f"{rate:.0f}", f"{(len(results) - 1) / (max(began) - min(began)):.1f}",
            f"{len(acked) / (max(r[3] for r in acked) - start):.1f}",
            f"{max(r[2] - r[1] for r in results) * 1000:.1f}", f"{client_cpu:.0%} of one CPU"]])


def drain_report(timings, states: dict) -> None:
    groups = (("webhook events", [t for t in timings if t[1] == EVENT_JOB]),
              ("emails + transfers they queued", [t for t in timings if t[1] != EVENT_JOB]), ("all", timings))
    rows = []
    for label, jobs in (g for g in groups if g[1]):
        wall = max(t[3] for t in jobs) - min(t[2] for t in jobs)
        rows.append([label, str(len(jobs)), f"{wall:.1f}", f"{len(jobs) / wall:.0f}",
                     *spread([(t[3] - t[2]) * 1000 for t in jobs])])
    lost = f"; {states['pending']} never ran: did a test run empty rq:* meanwhile?" if states.get("pending") else ""
    table(f"One worker (RQ SimpleWorker, burst, in this process, gunicorn stopped) draining the high queue; events "
          f"in the database afterwards: {', '.join(f'{k} {v}' for k, v in sorted(states.items()))}{lost}",
          ["jobs", "count", "wall s", "per second", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows)


def clean_redis(connection, job_ids: set[str], extra_keys: list[str]) -> None:
    """Delete this run's jobs (and their results), rate-limit counters and `extra_keys`; nothing else."""
    from rq.job import Job

    for job in filter(None, Job.fetch_many(sorted(job_ids), connection=connection)):
        job.delete()
    keys = [*extra_keys, *(f"rq:results:{job_id}" for job_id in job_ids),
            *connection.scan_iter(f"LIMITS:LIMITER/{OVERRIDES['RATELIMIT_KEY_PREFIX']}/*")]
    if keys:
        connection.delete(*keys)


def load_and_drain(app, url: str, redis_url: str, workdir: str, args, made: dict) -> None:
    """Orders, the load against gunicorn (each offered rate in turn), the worker's drain, the tables; `made`
    collects what to clean up."""
    from flask_migrate import upgrade
    from rq import Queue

    rates = [float(r) for r in args.rates.split(",")] if args.rates else [args.rate]
    with app.app_context():
        upgrade()
        orders = build_orders(WARMUP + sum(round(rate * args.seconds) for rate in rates))
    made["proc"], port = start_gunicorn(url, redis_url, workdir, args.workers, args.threads)
    fire(port, signed_requests(orders[:WARMUP]), 20)  # every gunicorn worker imports, connects and pools first
    taken, reports = WARMUP, []
    for rate in rates:
        batch = signed_requests(orders[taken:taken + round(rate * args.seconds)])
        taken += len(batch)
        results, start, client_cpu = fire(port, batch, rate)
        reports.append((results, start, rate, sum(len(b) for b, _ in batch) / len(batch), client_cpu))
    made["jobs"] |= set(Queue("high", connection=made["redis"]).get_job_ids())
    made["proc"].terminate()  # the worker gets the CPUs to itself
    made["proc"].wait(30)
    timings, states = [], {}
    if not args.no_drain:
        timings, worker_key, states = drain(app, made["redis"])
        made["keys"].append(worker_key)
        made["jobs"] |= {t[0] for t in timings}
    for results, start, rate, body_bytes, client_cpu in reports:
        ack_report(results, start, rate, f"-w {args.workers}" + (f" -k gthread --threads {args.threads}"
                                                                  if args.threads > 1 else " (sync)"),
                   body_bytes, client_cpu)
    if timings:
        drain_report(timings, states)


def run(args) -> None:
    from redis import Redis
    from rq import Queue

    from covet import create_app
    from covet.extensions import db

    redis_url = os.environ.get("REDIS_URL", "")
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql") or not redis_url:
        raise SystemExit("bench_webhooks needs PostgreSQL and Redis, e.g. DATABASE_URL=postgresql://postgres@127.0.0.1"
                         ":5432/postgres REDIS_URL=redis://127.0.0.1:6379/13 (a Redis database no test run uses)")
    connection = Redis.from_url(redis_url)
    if (queued := Queue("high", connection=connection).count):
        raise SystemExit(f"the high queue on {redis_url} holds {queued} jobs that this bench's worker would run "
                         "too: use an idle Redis database (another /N in REDIS_URL)")
    # RQ's set of queue names is ours to remove only if this run created it.
    made = {"proc": None, "redis": connection, "jobs": set(),
            "keys": [] if connection.exists("rq:queues") else ["rq:queues"]}
    url, drop = make_database()
    workdir = os.environ["COVET_INSTANCE_PATH"] = tempfile.mkdtemp()
    app = create_app(OVERRIDES, environ={**ENVIRON, "DATABASE_URL": url, "REDIS_URL": redis_url})
    try:
        load_and_drain(app, url, redis_url, workdir, args, made)
    finally:
        if made["proc"] is not None and made["proc"].poll() is None:
            made["proc"].terminate()
            made["proc"].wait(30)
        made["jobs"] |= set(Queue("high", connection=connection).get_job_ids())  # it was empty when we began
        with app.app_context():
            db.engine.dispose()
        clean_redis(connection, made["jobs"], made["keys"])
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="offered requests per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rates", default="", help="several offered rates in turn, e.g. 100,200,400")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread when > 1)")
    parser.add_argument("--no-drain", action="store_true", help="acknowledgements only; the queued jobs are deleted")
    run(parser.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
