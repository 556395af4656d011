"""Variant editor: the page with 2,048 variants and htmx row saves, in-process and under gunicorn.

    [DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres] [REDIS_URL=redis://127.0.0.1:6379/15] \
        .venv/bin/python bench/bench_editor.py [--renders 20] [--saves 200] [--profile]

Builds a throwaway database (PostgreSQL when DATABASE_URL is set, else SQLite), a store, a merchant and two
products (16 × 16 × 8 = 2,048 variants; 4 × 4 × 3 = 48), then times GET /admin/products/<id> and htmx POSTs
of one row (alternating prices) through Flask's test client and over loopback against gunicorn -w 2. Times are
client wall time per request; LOG_LEVEL=WARNING in both. Reported, never asserted.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import free_port, make_database  # noqa: E402 - needs the path above

PASSWORD = "correct horse battery staple"
SHAPES = {"2,048": (16, 16, 8), "48": (4, 4, 3)}
HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}
RUN = uuid.uuid4().hex[:8]
# Own key prefixes, so the bench's invalidation flags and rate limits never meet the tests' in a shared Redis.
OVERRIDES = {"STARTUP_CHECKS": False, "CACHE_KEY_PREFIX": f"covet:bench-{RUN}:",
             "RATELIMIT_KEY_PREFIX": f"covet-bench-{RUN}"}
ENVIRON = {"COVET_ENV": "testing", "SECRET_KEY": f"bench-{RUN}-" + "k" * 32, "LOG_LEVEL": "WARNING",
           **({"REDIS_URL": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {})}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


class PurgeRuns:
    """The purge runs this bench schedules (about one per second of saves). No worker runs here, so they are
    deleted at the end, picked out of a shared Redis by their token (their one argument, held by the flag)."""

    def __init__(self):
        url = os.environ.get("REDIS_URL")
        self.redis, self.tokens = (Redis.from_url(url) if url else None), set()

    def note(self) -> None:
        token = self.redis and self.redis.get(f"{OVERRIDES['CACHE_KEY_PREFIX']}invalidate:scheduled")
        if token:
            self.tokens.add(token.decode())

    def remove(self) -> None:
        if self.redis is None:
            return
        registry = ScheduledJobRegistry("default", connection=self.redis)
        for job in Job.fetch_many(registry.get_job_ids(), connection=self.redis):
            if job is not None and job.args and job.args[0] in self.tokens:
                job.delete()
        mine = [*self.redis.scan_iter(f"{OVERRIDES['CACHE_KEY_PREFIX']}*"),
                *self.redis.scan_iter(f"LIMITS:LIMITER/{OVERRIDES['RATELIMIT_KEY_PREFIX']}/*")]
        if mine:
            self.redis.delete(*mine)


def build_catalog(note) -> tuple[str, dict]:
    """A store, a merchant and one product per shape: the email and {label: (product id, variant id, sku)}."""
    from covet.accounts.models import User
    from covet.accounts.passwords import hash_password
    from covet.audit.services import Actor
    from covet.catalog import matrix, products
    from covet.catalog.queries import editor_rows
    from covet.extensions import db
    from covet.stores.models import Store

    store = Store(name="Bench", slug="bench", currency="eur")
    user = User(email="merchant@bench.test", role="merchant", password_hash=hash_password(PASSWORD), store=store)
    db.session.add(user)
    db.session.commit()
    actor, made = Actor.for_user(user), {}
    for label, sizes in SHAPES.items():
        product = products.create_product({"title": f"Bench {label}"}, store.id, actor)
        note()
        options = [(f"Option {i}", ", ".join(f"V{i}-{n}" for n in range(size))) for i, size in enumerate(sizes)]
        matrix.set_options(product.id, options, actor)
        note()
        matrix.generate_variants(product.id, 1900, actor)  # 19.00 EUR each
        note()
        rows = editor_rows(product)
        middle = rows[len(rows) // 2].variant
        made[label] = (product.id, middle.id, middle.sku)
    return user.email, made


def sender(client=None, session=None, base=""):
    """send(method, path, data, headers) → (status, body bytes), over the test client or requests."""
    def send(method, path, data=None, headers=None):
        if client is not None:
            response = client.open(path, method=method, data=data, headers=headers)
            return response.status_code, response.get_data()
        response = session.request(method, base + path, data=data, headers=headers, allow_redirects=False,
                                   timeout=120)
        return response.status_code, response.content
    return send


def sign_in(send, email: str, product_id: int) -> str:
    """Sign in; the CSRF token of the signed-in session (signing in starts a fresh session)."""
    from tests.conftest import csrf_from

    _, page = send("GET", "/admin/login")
    status, body = send("POST", "/admin/login", {"email": email, "password": PASSWORD,
                                                 "csrf_token": csrf_from(page.decode())})
    if status != 303:
        raise SystemExit(f"sign-in failed ({status}): {body[:300]!r}")
    return csrf_from(send("GET", f"/admin/products/{product_id}")[1].decode())


def time_renders(send, product_id: int, count: int, warmups: int = 2) -> tuple[list[float], int]:
    times, size = [], 0
    for n in range(warmups + count):
        started = time.perf_counter()
        status, body = send("GET", f"/admin/products/{product_id}")
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise SystemExit(f"editor answered {status}")
        if n >= warmups:
            times.append(elapsed)
            size = len(body)
    return times, size


def time_saves(send, product_id: int, variant_id: int, sku: str, token: str, count: int, note) -> list[float]:
    path = f"/admin/products/{product_id}/variants/{variant_id}"
    version = int(re.search(r'name="version" value="(\d+)"', send("GET", path + "/edit", None, HTMX)[1].decode())[1])
    headers, times = {**HTMX, "X-CSRFToken": token}, []
    for n in range(count):
        # Generated at 19.00 and version 1, the row holds 19.00 at odd versions: always send the other price,
        # since a save that changes nothing does not bump the version.
        form = {"sku": sku, "price": "21.00" if version % 2 else "19.00", "compare_at": "", "stock": "0",
                "stock_reason": "correction", "barcode": "", "weight": "", "active": "on",
                "version": str(version), "csrf_token": token}
        started = time.perf_counter()
        status, body = send("POST", path, form, headers)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"row save {n} answered {status}: {body[:300]!r}")
        note()
        version += 1
    return times


def start_gunicorn(database_url: str, workdir: str):
    """gunicorn -w 2 on a free loopback port, the app built as wsgi.py builds it plus OVERRIDES."""
    import requests

    from covet.config import ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(ENVIRON, DATABASE_URL=database_url, COVET_INSTANCE_PATH=workdir)
    port, log = free_port(), Path(workdir) / "gunicorn.log"
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                             f"covet:create_app({OVERRIDES!r})"], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(base + "/admin/login", timeout=2).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-2000:]}")


def profile_render(client, product_id: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(client.get, f"/admin/products/{product_id}")
    print("\ncProfile, one in-process render of the 2,048-variant editor (by own time, then cumulative):")
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(15)
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("cumulative").print_stats(25)


def report(backend: str, setup_s: float, renders: int, render_rows: list, save_rows: list) -> None:
    redis_url = os.environ.get("REDIS_URL")
    print(f"\nEnvironment: database {backend}; {'Redis ' + redis_url if redis_url else 'embedded (no Redis)'}; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; setup of both products {setup_s:.1f} s")
    print(f"\nEditor page, GET /admin/products/<id> ({renders} requests after 2 warm-ups)\n")
    print("| variants | server | p50 ms | p95 ms | max ms | size KB |\n|---|---|---|---|---|---|")
    for label, server, times, size in render_rows:
        print(f"| {label} | {server} | {percentile(times, 50):.1f} | {percentile(times, 95):.1f} | "
              f"{max(times):.1f} | {size / 1024:.0f} |")
    print("\nRow save, htmx POST /admin/products/<id>/variants/<vid> (2,048-variant product, alternating prices)\n")
    print("| server | saves | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    for server, times in save_rows:
        print(f"| {server} | {len(times)} | {percentile(times, 50):.1f} | {percentile(times, 99):.1f} | "
              f"{max(times):.1f} |")


def run(renders: int, saves: int, profile: bool) -> None:
    import requests
    from flask_migrate import upgrade

    from covet import create_app
    from covet.extensions import db
    from covet.jobs.embedded import wait_for_embedded_jobs

    runs = PurgeRuns()
    url, drop = make_database()
    workdir = os.environ["COVET_INSTANCE_PATH"] = tempfile.mkdtemp()
    app = create_app(OVERRIDES, environ={**ENVIRON, "DATABASE_URL": url})
    render_rows, save_rows, proc = [], [], None
    try:
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            email, made = build_catalog(runs.note)
            setup_s = time.perf_counter() - started
            db.session.remove()
        big_id, variant_id, sku = made["2,048"]

        def measure(server: str, send) -> None:
            token = sign_in(send, email, big_id)
            render_rows.extend((label, server, *time_renders(send, product_id, renders))
                               for label, (product_id, _, _) in made.items())
            save_rows.append((server, time_saves(send, big_id, variant_id, sku, token, saves, runs.note)))

        client = app.test_client()
        measure("in-process", sender(client=client))
        proc, base = start_gunicorn(url, workdir)
        measure("gunicorn -w 2", sender(session=requests.Session(), base=base))
        report("postgresql" if url.startswith("postgresql") else "sqlite", setup_s, renders, render_rows, save_rows)
        if profile or percentile(render_rows[0][2], 50) > 500:
            profile_render(client, big_id)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        wait_for_embedded_jobs()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        runs.remove()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process render of 2,048 rows")
    args = parser.parse_args()
    run(args.renders, args.saves, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
