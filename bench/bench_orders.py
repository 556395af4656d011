"""Order queue and dashboard at 1 M orders: latency of the queue's six questions and of "take next" under 20 staff.

    [DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres] [REDIS_URL=redis://127.0.0.1:6379/14] \
        .venv/bin/python bench/bench_orders.py [--orders 1000000] [--reseed] [--requests 200] [--explain]

Uses (creates once) the database covet_bench next to DATABASE_URL: `flask db upgrade`, then `flask covet
seed-bench` unless it already holds --orders orders (--reseed rebuilds it). gunicorn -w 2 serves wsgi:app as in
production (COVET_ENV=production, Redis, Secure __Host- cookies), behind an imagined TLS load balancer:
PROXY_COUNT=1, X-Forwarded-Proto https and one X-Forwarded-For address per staff member. Staff sign in over HTTP
with requests; every question is asked as the queue's htmx fragment (HX-Request: true, HX-Request-Type: partial),
WARMUP times, then --requests times, one at a time. Take next: 20 staff, each their own session, 20 threads ×
25 presses, assignments reset before and after. Times are client wall time over loopback (plus Server-Timing
when the app sends one). REDIS_URL: a database no test run uses. Reported, never asserted.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_editor import percentile  # noqa: E402 - needs the path above
from bench.orders_explain import HTMX, PASSWORD, explain  # noqa: E402
from bench.support import free_port  # noqa: E402

RUN = uuid.uuid4().hex[:8]
BENCH_DB = "covet_bench"
RUNNERS, PRESSES, WARMUP, TARGET_MS = 20, 25, 10, 20.0
REFERENCE = ("Reference, a well-known open-source dashboard on the same hardware and data: 13 ms (exact order "
             "number) … 5.6 s (customer search)")


@dataclass
class Result:
    question: str
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    rows: str = ""
    note: str = ""


# --- the database ---------------------------------------------------------------------------------------------
def bench_url() -> str:
    base = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DB}", parts.query, ""))


def server_sql(url: str, *statements: str) -> list:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        return [conn.execute(s).fetchall() if s.lstrip().upper().startswith("SELECT") else conn.execute(s)
                for s in statements]


def app_env(url: str, workdir: str) -> dict:
    """The process environment of a production deployment, without whatever the caller's shell had set."""
    from covet.config import ENV_VARS

    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(COVET_ENV="production", SECRET_KEY=f"bench-{RUN}-" + "k" * 40, DATABASE_URL=url, LOG_LEVEL="WARNING",
               REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14", PROXY_COUNT="1",
               COVET_INSTANCE_PATH=workdir)
    return env


def flask(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def prepare_database(env: dict, orders: int, reseed: bool) -> str:
    """Migrated and seeded covet_bench; a line saying what was done (and how long the seed took)."""
    url = env["DATABASE_URL"]
    exists = server_sql(url, f"SELECT 1 FROM pg_database WHERE datname = '{BENCH_DB}'")[0]
    if reseed or not exists:
        server_sql(url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)', f'CREATE DATABASE "{BENCH_DB}"')
    flask(env, "db", "upgrade")
    import psycopg

    with psycopg.connect(urlunsplit(("postgresql", *urlsplit(url)[1:]))) as conn:
        have = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    if have >= orders:
        return f"reused {BENCH_DB} ({have:,} orders; --reseed rebuilds it)"
    if have:
        server_sql(url, f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)', f'CREATE DATABASE "{BENCH_DB}"')
        flask(env, "db", "upgrade")
    print(f"seeding {orders:,} orders into {BENCH_DB} …", flush=True)
    started = time.perf_counter()
    out = flask(env, "covet", "seed-bench", "--orders", str(orders))
    return f"seeded {BENCH_DB} in {time.perf_counter() - started:.0f} s: {out.strip().splitlines()[-1]}"


# --- users and sample values, in-process --------------------------------------------------------------------
def prepare_people_and_samples(env: dict, count: int) -> dict:
    """20 staff runners and a merchant of the busiest store (known password), and values to search for."""
    from sqlalchemy import func, select, text

    from covet import create_app
    from covet.accounts.models import User
    from covet.accounts.passwords import hash_password
    from covet.extensions import db
    from covet.orders.models import Order, OrderLine

    app = create_app(environ=env)
    with app.app_context():
        hashed = hash_password(PASSWORD)
        busiest = db.session.execute(text("SELECT store_id FROM order_lines TABLESAMPLE SYSTEM (2) GROUP BY 1 "
                                          "ORDER BY count(*) DESC LIMIT 1")).scalar()
        people = [(f"bench-runner-{n}@covet.test", "staff", None) for n in range(1, RUNNERS + 1)]
        people.append(("bench-merchant@covet.test", "merchant", busiest))
        for email, role, store_id in people:
            user = db.session.scalar(select(User).where(User.email == email)) or User(email=email, role=role)
            user.store_id, user.password_hash, user.active = store_id, hashed, True
            user.failed_logins, user.locked_until, user.name = 0, None, email.split("@")[0].title()
            db.session.add(user)
        db.session.commit()
        low, high = db.session.execute(select(func.min(Order.id), func.max(Order.id))).one()
        rng = random.Random(7)
        ids = rng.sample(range(low, high + 1), min(count, high - low + 1))
        sampled = db.session.execute(select(Order.number, Order.email).where(Order.id.in_(ids))).all()
        newest = db.session.scalar(select(func.max(Order.created_at)))
        months = []
        for back in range(2, 14):  # whole calendar months, 2 to 13 months ago
            first = (newest.replace(day=1) - dt.timedelta(days=31 * back)).replace(day=1)
            last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            months.append((first.date().isoformat(), last.date().isoformat()))
        runner_ids = list(db.session.scalars(select(User.id).where(User.email.like("bench-runner-%"))))
        skus = db.session.scalar(select(func.count(func.distinct(OrderLine.sku))))
        db.session.remove()
        db.engine.dispose()
    return {"numbers": [n for n, _ in sampled], "emails": [e for _, e in sampled], "months": months,
            "runner_ids": runner_ids, "runners": [p[0] for p in people[:-1]], "merchant": people[-1][0],
            "store": busiest, "skus": skus}


def reset_assignments(url: str, runner_ids: list[int]) -> None:
    import psycopg

    with psycopg.connect(urlunsplit(("postgresql", *urlsplit(url)[1:]))) as conn:
        conn.execute("UPDATE orders SET assignee_id = NULL WHERE assignee_id = ANY(%s)", (runner_ids,))


# --- HTTP ----------------------------------------------------------------------------------------------------
class Staff:
    """One person's browser: their own session, address and (Secure) cookies, as behind the TLS balancer."""

    def __init__(self, base: str, address: str):
        import requests

        self.base, self.session = base, requests.Session()
        host = urlsplit(base).netloc
        self.session.headers.update({"X-Forwarded-For": address, "X-Forwarded-Proto": "https",
                                     "Referer": f"https://{host}/admin/"})
        self.token = ""

    def _kept(self, response):
        # The balancer speaks https to the browser, so Secure cookies go back although this hop is plain http.
        for cookie in self.session.cookies:
            cookie.secure = False
        return response

    def get(self, path: str, headers: dict | None = None):
        return self._kept(self.session.get(self.base + path, headers=headers, allow_redirects=False, timeout=120))

    def post(self, path: str, data: dict | None = None, headers: dict | None = None):
        return self._kept(self.session.post(self.base + path, data=data, headers=headers, allow_redirects=False,
                                            timeout=120))

    def sign_in(self, email: str) -> Staff:
        from tests.conftest import csrf_from

        page = self.get("/admin/login").text
        response = self.post("/admin/login", {"email": email, "password": PASSWORD, "csrf_token": csrf_from(page)})
        if response.status_code != 303:
            raise SystemExit(f"sign-in of {email} failed ({response.status_code}): {response.text[:300]}")
        self.token = csrf_from(self.get("/admin/orders/").text)
        return self


def start_gunicorn(env: dict, workdir: str):
    import requests

    port, log = free_port(), Path(workdir) / "gunicorn.log"
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(base + "/api/health", timeout=10).status_code == 200:
                    return proc, base
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-2000:]}")
    except BaseException:  # never leave the server behind, whatever stopped the wait
        proc.terminate()
        proc.wait(timeout=30)
        raise


def server_timing(response) -> float | None:
    """The total (or first) dur= of a Server-Timing header, in ms."""
    header = response.headers.get("Server-Timing")
    if not header:
        return None
    durations = dict(re.findall(r"([\w-]+)[^,]*?dur=([\d.]+)", header))
    value = durations.get("total") or durations.get("app") or next(iter(durations.values()), None)
    return float(value) if value else None


def rows_on(response) -> str:
    if response.status_code == 204 and response.headers.get("HX-Redirect"):
        return "→ order"
    return str(response.text.count('<tr id="order-row-'))


def time_question(staff: Staff, question: str, paths: list[str], count: int, headers=HTMX) -> Result:
    """WARMUP untimed requests, then `count` timed ones cycling through `paths`."""
    result = Result(question)
    for n in range(WARMUP + count):
        path = paths[n % len(paths)]
        started = time.perf_counter()
        response = staff.get(path, headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code not in (200, 204):
            raise SystemExit(f"{question}: {path} answered {response.status_code}: {response.text[:300]}")
        if n >= WARMUP:
            result.client_ms.append(elapsed)
            if (server := server_timing(response)) is not None:
                result.server_ms.append(server)
            result.rows = rows_on(response)
    return result


def fiftieth_page(staff: Staff) -> str:
    """Follow the next link from page 1, 49 times: the URL of page 50."""
    path = "/admin/orders/"
    for _ in range(49):
        found = re.search(r'<a id="next-page" href="([^"]+)"', staff.get(path, HTMX).text)
        if not found:
            raise SystemExit("the queue has fewer than 50 pages")
        path = html.unescape(found.group(1))
    return path


def queue_questions(samples: dict) -> list[tuple[str, list[str]]]:
    def q(**params) -> str:
        return "/admin/orders/?" + urlencode(params)

    return [("1 default first page", ["/admin/orders/"]),
            ("2 paid + unfulfilled", [q(payment="paid", fulfilment="unfulfilled")]),
            ("3 exact order number", [q(q=number) for number in samples["numbers"]]),
            ("4 customer email", [q(q=email) for email in samples["emails"]]),
            ("5 one month", [q(**{"from": first, "to": last}) for first, last in samples["months"]])]


def take_next_alone(staff: Staff, count: int) -> Result:
    """One staff member pressing "take next" `count` times in a row: the service time without queueing."""
    result = Result("take next (one staff, one at a time)", rows="—")
    for _ in range(count):
        started = time.perf_counter()
        response = staff.post("/admin/orders/take-next", {"csrf_token": staff.token},
                              {**HTMX, "X-CSRFToken": staff.token})
        result.client_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 204:
            raise SystemExit(f"take next answered {response.status_code}: {response.text[:300]}")
    return result


def take_next_run(base: str, emails: list[str]) -> tuple[Result, str]:
    """20 staff pressing "take next" 25 times each, all at once; every press must get its own order."""
    people = [Staff(base, f"198.51.100.{10 + n}").sign_in(email) for n, email in enumerate(emails)]
    result, taken, empty = Result(f"take next ({len(people)} staff at once)"), [], 0

    def press(staff: Staff) -> list:
        out = []
        for _ in range(PRESSES):
            started = time.perf_counter()
            response = staff.post("/admin/orders/take-next", {"csrf_token": staff.token},
                                  {**HTMX, "X-CSRFToken": staff.token})
            out.append(((time.perf_counter() - started) * 1000, response))
        return out

    with ThreadPoolExecutor(len(people)) as pool:
        for outcome in pool.map(press, people):
            for elapsed, response in outcome:
                if response.status_code != 204:
                    raise SystemExit(f"take next answered {response.status_code}: {response.text[:300]}")
                result.client_ms.append(elapsed)
                if (server := server_timing(response)) is not None:
                    result.server_ms.append(server)
                location = response.headers.get("HX-Redirect", "")
                if re.search(r"/admin/orders/\d+", location):
                    taken.append(location)
                else:
                    empty += 1
    result.rows = "—"
    twice = len(taken) - len(set(taken))
    note = f"{len(taken)} orders taken, {twice} taken twice, {empty} presses found nothing waiting"
    return result, note


# --- report -------------------------------------------------------------------------------------------------
def report(results: list[Result], notes: list[str]) -> None:
    with_server = any(r.server_ms for r in results)
    print("\n| question | p50 ms | p99 ms | max ms | rows on page | target p99 | pass/fail |"
          + (" server p50 | server p99 |" if with_server else ""))
    print("|---|---|---|---|---|---|---|" + ("---|---|" if with_server else ""))
    for r in results:
        p99 = percentile(r.client_ms, 99)
        line = (f"| {r.question} | {percentile(r.client_ms, 50):.1f} | {p99:.1f} | {max(r.client_ms):.1f} | "
                f"{r.rows} | {TARGET_MS:.0f} ms | {'pass' if p99 <= TARGET_MS else 'FAIL'} |")
        if with_server:
            line += (f" {percentile(r.server_ms, 50):.1f} | {percentile(r.server_ms, 99):.1f} |" if r.server_ms
                     else " — | — |")
        print(line)
    if not with_server:
        print("\n(no Server-Timing header in the responses: client wall time over loopback only)")
    for note in notes:
        print(note)
    print(REFERENCE)


def run(args) -> None:
    workdir = tempfile.mkdtemp()
    env = app_env(bench_url(), workdir)
    proc = None
    try:
        prepared = prepare_database(env, args.orders, args.reseed)
        samples = prepare_people_and_samples(env, args.requests)
        reset_assignments(env["DATABASE_URL"], samples["runner_ids"])
        proc, base = start_gunicorn(env, workdir)
        staff = Staff(base, "198.51.100.9").sign_in(samples["runners"][0])
        questions = queue_questions(samples)
        results = [time_question(staff, name, paths, args.requests) for name, paths in questions]
        page50 = fiftieth_page(staff)
        results.append(time_question(staff, "6 50th page (after cursor)", [page50], args.requests))
        results.append(time_question(staff, "dashboard, staff (full page)", ["/admin/"], args.requests, {}))
        merchant = Staff(base, "198.51.100.8").sign_in(samples["merchant"])
        results.append(time_question(merchant, f"dashboard, merchant of store {samples['store']} (full page)",
                                     ["/admin/"], args.requests, {}))
        results.append(take_next_alone(staff, args.requests))
        reset_assignments(env["DATABASE_URL"], samples["runner_ids"])
        taken, note = take_next_run(base, samples["runners"])
        results.append(taken)
        reset_assignments(env["DATABASE_URL"], samples["runner_ids"])
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nEnvironment: {prepared}; load average at the end {load} (other work on the machine shows here); "
              f"gunicorn -w 2 (sync) wsgi:app, COVET_ENV=production, Redis "
              f"{env['REDIS_URL']}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}; {args.requests} "
              f"requests per question after {WARMUP} warm-ups, one at a time; take next {RUNNERS} × {PRESSES}.")
        report(results, [f"Take next: {note}."])
        if args.explain:
            explain(env, samples, questions, page50)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--reseed", action="store_true", help="drop covet_bench and seed it again")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per question")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) each question's SQL")
    run(parser.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
