"""`flask covet …` commands: users, demo data, service checks."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

covet_cli = AppGroup("covet", help="Covet administration commands.")


@covet_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "staff", "merchant"]))
@click.option("--store", "store_slug", help="Store slug (required for merchants).")
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email, role, store_slug, name, password_stdin):
    """Create a back-office user; the password is prompted for (or read from stdin)."""
    from covet.accounts.services import ValidationError, create_user
    from covet.audit.services import Actor

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, password, role, Actor.system("cli"), store_slug=store_slug, name=name)
    except ValidationError as exc:
        for field, message in exc.errors.items():
            click.echo(f"error: {field}: {message}", err=True)
        sys.exit(2)
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@covet_cli.command("seed-demo")
def seed_demo_command():
    """Fill the database with demo stores, users, products, orders, a dispute and a payout."""
    from covet.demo import seed_demo

    logins = seed_demo()
    click.echo("Demo data ready. Sign in at /admin/login with:")
    for role, email, password in logins:
        click.echo(f"  {role:<9} {email:<32} {password}")


@covet_cli.command("doctor")
def doctor_command():
    """Check every configured service and print what to fix."""
    from flask import current_app

    from covet.ops.doctor import run_doctor

    sys.exit(run_doctor(current_app._get_current_object(), click.echo))


@covet_cli.command("jobs-flush")
def jobs_flush_command():
    """Deliver outbox jobs left behind while Redis was unreachable (the scheduler does this every 30 s)."""
    from covet.jobs import flush_outbox
    from covet.jobs.embedded import wait_for_embedded_jobs

    delivered = flush_outbox()
    wait_for_embedded_jobs()
    click.echo(f"delivered {delivered} job(s)")


@covet_cli.command("seed-bench")
@click.option("--orders", default=1_000_000, show_default=True, type=click.IntRange(1), help="Orders to add.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed (same seed, same data).")
@click.option("--batch", default=50_000, show_default=True, type=click.IntRange(1), help="Orders per COPY batch.")
def seed_bench_command(orders, seed, batch):
    """Add a large realistic data set for benchmarks (COPY on PostgreSQL, batches on SQLite)."""
    from covet.orders.seed_bench import seed_bench

    made = seed_bench(orders, seed=seed, batch=batch, progress=click.echo)
    click.echo(f"seeded {made['orders']:,} orders, {made['lines']:,} lines, {made['customers']:,} customers, "
               f"{made['payments']:,} payments, {made['tags']:,} tags in {made['seconds']:.1f} s")
