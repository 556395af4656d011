"""Enqueue after commit, nothing lost: RQ on real Redis, the in-process runner without it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from covet.jobs import enqueue, flush_outbox
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.jobs.models import JobOutbox
from covet.stores.models import Store
from tests.conftest import REDIS_URL, build_app, requires_redis_server
from tests.jobs import sample_jobs

ROOT = Path(__file__).resolve().parents[2]


def outbox_count(db):
    return db.session.scalar(select(func.count()).select_from(JobOutbox))


def run_burst(connection, *queues):
    worker = SimpleWorker([Queue(q, connection=connection) for q in queues or ("high", "default", "low")],
                          connection=connection)
    worker.work(burst=True)


def test_job_arguments_must_be_ids(app, make_store):
    store = make_store("lune")
    with pytest.raises(TypeError, match="ids or plain values"):
        enqueue(sample_jobs.rename_store, store, "x")
    with pytest.raises(TypeError, match="not a @job function"):
        enqueue(print, 1)


def test_rolled_back_transaction_enqueues_nothing(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Never")
    db.session.rollback()
    assert outbox_count(db) == 0
    assert Queue("default", connection=redis_conn).count == 0


def test_committed_job_reaches_rq_and_runs_in_a_worker(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Maison Lune")
    assert Queue("default", connection=redis_conn).count == 0  # not before commit
    db.session.commit()
    assert Queue("default", connection=redis_conn).count == 1
    assert db.session.scalar(select(JobOutbox.status)) == "queued"  # kept until the job has run
    run_burst(redis_conn, "default")
    db.session.expire_all()
    assert db.session.get(Store, store.id).name == "Maison Lune"
    assert outbox_count(db) == 0  # the finished job took its row with it


def test_embedded_mode_runs_the_job_in_process_after_commit(tmp_path, database_url, db, make_store):
    embedded = build_app(database_url, tmp_path, REDIS_URL=None)
    with embedded.app_context():
        store = make_store("lune")
        enqueue(sample_jobs.rename_store, store.id, "Embedded")
        db.session.commit()
        wait_for_embedded_jobs()
        db.session.expire_all()
        assert db.session.get(Store, store.id).name == "Embedded"
        assert outbox_count(db) == 0


def test_embedded_failures_stay_visible(tmp_path, database_url, make_store, db):
    embedded = build_app(database_url, tmp_path, REDIS_URL=None)
    with embedded.app_context():
        enqueue(sample_jobs.fail_unless_store_named, make_store("noor").id, "Atelier Noor")
        db.session.commit()
        wait_for_embedded_jobs()
        row = db.session.scalar(select(JobOutbox))
        assert row.status == "failed" and row.attempts == 1 and "RuntimeError" in row.last_error


def test_failed_job_is_listed_then_retried_from_the_admin(app, db, client, login_as, make_store, redis_conn):
    store = make_store("noor")
    enqueue(sample_jobs.fail_unless_store_named, store.id, "Atelier Noor")
    db.session.commit()
    run_burst(redis_conn, "default")
    registry = FailedJobRegistry("default", connection=redis_conn)
    [job_id] = registry.get_job_ids()

    login_as("admin")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert f'id="failed-job-{job_id}"' in page and "RuntimeError" in page
    store.name = "Atelier Noor"  # fix the cause, then press Retry
    db.session.commit()
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post(f"/admin/jobs/failed/{job_id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    assert registry.get_job_ids() == []
    run_burst(redis_conn, "default")
    db.session.expire_all()
    assert db.session.get(Store, store.id).support_email == "done@covet.test"


def test_redis_down_at_enqueue_then_delivered_after_restart(tmp_path, database_url, db, make_store, private_redis):
    app = build_app(database_url, tmp_path, REDIS_URL=private_redis.url)
    with app.app_context():
        store = make_store("kestrel")
        private_redis.stop()
        enqueue(sample_jobs.rename_store, store.id, "Kestrel & Co")
        db.session.commit()  # the change commits even though Redis is down
        row = db.session.scalar(select(JobOutbox))
        assert row is not None and row.attempts == 1 and "Connection" in row.last_error
        private_redis.start()
        assert flush_outbox(app) == 1  # what the scheduler does every 30 s
        connection = redis.Redis.from_url(private_redis.url)
        run_burst(connection, "default")
        db.session.expire_all()
        assert db.session.get(Store, store.id).name == "Kestrel & Co"
        assert outbox_count(db) == 0


@requires_redis_server
def test_worker_py_runs_jobs_as_a_subprocess(app, db, database_url, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "From worker.py")
    db.session.commit()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "COVET_ENV": "testing",
           "SECRET_KEY": "s" * 40, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "worker.py", "default", "--burst"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    db.session.expire_all()
    assert db.session.get(Store, store.id).name == "From worker.py"


def test_htmx_retry_refreshes_the_list_and_the_counts(app, db, client, login_as, make_store, redis_conn):
    store = make_store("noor")
    enqueue(sample_jobs.fail_unless_store_named, store.id, "Atelier Noor")
    enqueue(sample_jobs.fail_unless_store_named, store.id, "Still wrong")
    db.session.commit()
    run_burst(redis_conn, "default")
    job_id, other_id = FailedJobRegistry("default", connection=redis_conn).get_job_ids()
    login_as("admin")
    token = client.get("/admin/jobs/").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post(f"/admin/jobs/failed/{job_id}/delete",
                           headers={"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="failed-jobs"' in body and f'id="failed-job-{other_id}"' in body and job_id not in body
    assert '<section class="cards" id="queues" hx-swap-oob="true">' in body and "1 failed" in body
    assert "Job deleted." in response.headers["HX-Trigger"]
