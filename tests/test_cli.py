"""`flask covet` commands."""
from sqlalchemy import func, select

from covet.accounts.models import User
from covet.disputes.models import Dispute
from covet.orders.models import ORDER_STATES, PAYMENT_STATUSES, Order
from covet.payouts.models import Payout
from covet.stores.models import Store
from tests.conftest import login


def test_create_user_reads_password_from_stdin(app, db, make_store):
    make_store("lune")
    result = app.test_cli_runner().invoke(args=["covet", "create-user", "--email", "Margot@Lune.test", "--role",
                                                "merchant", "--store", "lune", "--password-stdin"],
                                          input="a long merchant passphrase\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "margot@lune.test"))
    assert user.role == "merchant" and user.store.slug == "lune"
    assert user.password_hash.startswith("$argon2id$")
    assert login(app.test_client(), "margot@lune.test", "a long merchant passphrase").status_code == 303


def test_create_user_refuses_bad_input_with_clear_messages(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["covet", "create-user", "--email", "m@x.test", "--role", "merchant",
                                 "--password-stdin"], input="short\n")
    assert result.exit_code == 2
    assert "store: A merchant needs a store" in result.output and "password: Use at least 12" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_prompts_for_password(app, db):
    result = app.test_cli_runner().invoke(args=["covet", "create-user", "--email", "boss@covet.test", "--role",
                                                "admin"], input="the admin passphrase\nthe admin passphrase\n")
    assert result.exit_code == 0, result.output
    assert "created admin boss@covet.test" in result.output


def test_seed_demo_fills_every_state_and_prints_working_logins(app, db):
    result = app.test_cli_runner().invoke(args=["covet", "seed-demo"])
    assert result.exit_code == 0, result.output
    logins = [line.split() for line in result.output.splitlines() if line.startswith("  ")]
    assert {row[0] for row in logins} == {"admin", "staff", "merchant"}
    assert db.session.scalar(select(func.count()).select_from(Store)) == 3
    assert set(db.session.scalars(select(Order.state).distinct())) == set(ORDER_STATES)
    assert set(db.session.scalars(select(Order.payment_status).distinct())) == set(PAYMENT_STATUSES)
    # Disputes in every state worth a look, each on a shipped order with the emails Covet sent.
    disputes = db.session.scalars(select(Dispute)).all()
    assert sorted(d.status for d in disputes) == ["lost", "needs_response", "needs_response", "under_review", "won"]
    assert all(d.order and d.order.fulfilments for d in disputes)
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1
    role, email, password = logins[0]
    client = app.test_client()
    assert login(client, email, password).status_code == 303
    assert "CV-10" in client.get("/admin/").get_data(as_text=True)

    again = app.test_cli_runner().invoke(args=["covet", "seed-demo"])
    assert again.exit_code == 0 and db.session.scalar(select(func.count()).select_from(Store)) == 3


def test_jobs_flush_delivers_what_was_left(app, db, make_store):
    from covet.jobs.models import JobOutbox
    from tests.jobs.sample_jobs import rename_store

    store = make_store("lune")
    db.session.add(JobOutbox(job_id="left-behind", func=rename_store.path, args=[store.id, "Flushed"], kwargs={},
                             queue="default", timeout=30, retry_intervals=[]))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["covet", "jobs-flush"])
    assert result.exit_code == 0 and "delivered 1 job(s)" in result.output
