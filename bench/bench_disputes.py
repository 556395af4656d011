"""The dispute list at 50,000 disputes, over HTTP under gunicorn -w 2 (reported, never asserted; target p99 ≤ 20 ms).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/bench_disputes.py [--disputes 50000] [--requests 200] [--reseed]

Builds `covet_bench_disputes` once (`covet seed-bench` orders, then one dispute per order spread over statuses,
reasons and deadlines from 30 days ago to 30 days ahead, 1 in 5 assigned), signs in a staff member and a
merchant of the busiest store, and asks each question as the list's htmx fragment: WARMUP untimed requests,
then --requests timed ones, one at a time. Client time includes the HTTP round trip on loopback.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_orders as orders  # noqa: E402 - needs the path above
from bench.bench_editor import percentile  # noqa: E402

BENCH_DB = "covet_bench_disputes"
TARGET_MS = 20.0
SEED_SQL = """
INSERT INTO disputes (stripe_dispute_id, charge_id, order_id, amount, currency, reason, status, evidence_due_by,
                      has_evidence, past_due, submission_count, evidence_draft, version, created_at, updated_at,
                      assignee_id)
SELECT 'dp_bench_' || o.id, 'ch_bench_' || o.id, o.id, o.total_amount, o.currency,
       (ARRAY['fraudulent','product_not_received','product_unacceptable','duplicate','general',
              'credit_not_processed'])[1 + o.id %% 6],
       (ARRAY['needs_response','needs_response','under_review','won','lost','warning_needs_response'])[1 + o.id %% 6],
       now() + ((o.id %% 60) - 30) * interval '1 day' + (o.id %% 24) * interval '1 hour',
       false, false, 0, '{}', 1, now(), now(),
       CASE WHEN o.id %% 5 = 0 THEN (SELECT min(id) FROM users WHERE role = 'staff') END
FROM orders o ORDER BY o.id LIMIT %(n)s
"""


def prepare(env: dict, disputes: int, reseed: bool) -> str:
    url = env["DATABASE_URL"]
    exists = orders.server_sql(url, f"SELECT 1 FROM pg_database WHERE datname = '{BENCH_DB}'")[0]
    if reseed or not exists:
        orders.server_sql(url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)', f'CREATE DATABASE "{BENCH_DB}"')
    orders.flask(env, "db", "upgrade")
    import psycopg

    dsn = urlunsplit(("postgresql", *urlsplit(url)[1:]))
    with psycopg.connect(dsn) as conn:
        have = conn.execute("SELECT count(*) FROM disputes").fetchone()[0]
    if have >= disputes:
        return f"reused {BENCH_DB} ({have:,} disputes; --reseed rebuilds it)"
    orders.flask(env, "covet", "seed-bench", "--orders", str(disputes))
    people = orders.prepare_people_and_samples(env, 10)
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM disputes")
        conn.execute(SEED_SQL, {"n": disputes})
        conn.execute("ANALYZE disputes")
    return f"seeded {BENCH_DB}: {disputes:,} disputes on {disputes:,} orders (merchant store {people['store']})"


def questions(store_id: int) -> list[tuple[str, list[str]]]:
    return [("first page (Needs response)", ["/admin/disputes/"]),
            ("filtered: all, fraudulent, one store", [f"/admin/disputes/?tab=all&reason=fraudulent&store={store_id}"]),
            ("filtered: due before a date, mine", ["/admin/disputes/?tab=all&due_before=2099-01-01&assignee=mine"]),
            ("Won tab", ["/admin/disputes/?tab=won"])]


def fifth_page(person) -> str:
    import re

    path = "/admin/disputes/?tab=all"
    for _ in range(4):
        found = re.search(r'id="next-page" href="([^"]+)"', person.get(path).text)
        path = found.group(1).replace("&amp;", "&")
    return path


def run(person, label: str, paths: list[str], count: int):
    result = orders.time_question(person, label, paths, count)
    result.rows = str(person.get(paths[0], orders.HTMX).text.count('id="dispute-row-'))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DB}", parts.query, ""))
    workdir = tempfile.mkdtemp()
    env = orders.app_env(url, workdir)
    print(prepare(env, args.disputes, args.reseed), flush=True)
    people = orders.prepare_people_and_samples(env, 10)
    proc, address = orders.start_gunicorn(env, workdir)
    try:
        staff = orders.Staff(address, "10.0.0.1").sign_in(people["runners"][0])
        merchant = orders.Staff(address, "10.0.0.2").sign_in(people["merchant"])
        results = [run(staff, label, paths, args.requests) for label, paths in questions(people["store"])]
        results.append(run(staff, "page 5 (keyset cursor)", [fifth_page(staff)], args.requests))
        results.append(run(merchant, "merchant: first page", ["/admin/disputes/"], args.requests))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\ndispute list, {args.disputes:,} disputes, gunicorn -w 2, {args.requests} requests each, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}\n")
    print("| question | rows | p50 ms | p99 ms | server p99 ms | p99 / 20 ms |\n|---|---|---|---|---|---|")
    for r in results:
        p99 = percentile(r.client_ms, 99)
        server = f"{percentile(r.server_ms, 99):.1f}" if r.server_ms else "—"
        print(f"| {r.question} | {r.rows} | {percentile(r.client_ms, 50):.1f} | {p99:.1f} | {server} | "
              f"{p99 / TARGET_MS:.2f} |")


if __name__ == "__main__":
    main()
