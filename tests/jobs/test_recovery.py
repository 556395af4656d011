"""Nothing lost: a job handed to RQ keeps its outbox row until it finishes, and the recovery sweep sends
again what Redis lost (restarted empty) or a killed worker abandoned; workers outlive a Redis outage."""
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select, update

from covet.dbtypes import utcnow
from covet.jobs import enqueue
from covet.jobs.models import JobOutbox
from covet.jobs.recovery import MAX_DELIVERIES, recover_lost_jobs
from covet.jobs.runner import BOOKED_KEY
from covet.stores.models import Store
from tests.conftest import REDIS_URL, build_app, requires_redis_server
from tests.jobs import sample_jobs
from tests.jobs.test_outbox import run_burst

ROOT = Path(__file__).resolve().parents[2]
WORKER_LOG = os.environ.get("COVET_TEST_WORKER_LOG")  # set it to read what the worker said
LATER = dt.timedelta(hours=1)  # "the sweep runs an hour later": past every check time and job timeout


def outbox_row(db) -> JobOutbox:
    db.session.expire_all()
    return db.session.scalar(select(JobOutbox))


def test_a_job_redis_lost_is_sent_again_and_runs(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Maison Lune")
    db.session.commit()
    first_id = outbox_row(db).job_id
    redis_conn.flushdb()  # Redis restarted with an empty dataset: the queued job is gone
    assert recover_lost_jobs(app, now=utcnow() + LATER)["lost"] == 1
    row = outbox_row(db)
    assert (row.status, row.deliveries) == ("queued", 2) and row.job_id != first_id
    assert "vanished" in row.last_error
    run_burst(redis_conn, "default")
    db.session.expire_all()
    assert db.session.get(Store, store.id).name == "Maison Lune"
    assert outbox_row(db) is None


def test_a_job_rq_still_holds_is_left_alone(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Maison Lune")
    db.session.commit()
    job_id = outbox_row(db).job_id
    assert recover_lost_jobs(app, now=utcnow() + LATER)["live"] == 1
    row = outbox_row(db)
    assert (row.job_id, row.deliveries) == (job_id, 1)
    assert Queue("default", connection=redis_conn).count == 1  # not queued twice


def test_a_job_lost_too_often_is_failed_for_an_admin(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Maison Lune")
    db.session.commit()
    db.session.execute(update(JobOutbox).values(deliveries=MAX_DELIVERIES))
    db.session.commit()
    redis_conn.flushdb()
    recover_lost_jobs(app, now=utcnow() + LATER)
    row = outbox_row(db)
    assert row.status == "failed" and f"lost {MAX_DELIVERIES} times" in row.last_error
    assert Queue("default", connection=redis_conn).count == 0


def test_a_job_rq_gave_up_on_is_failed_with_its_error(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.fail_unless_store_named, store.id, "Somebody else")
    db.session.commit()
    run_burst(redis_conn, "default")
    assert outbox_row(db).status == "queued"  # RQ failed it; the row waits for the sweep
    assert recover_lost_jobs(app, now=utcnow() + LATER)["failed"] == 1
    row = outbox_row(db)
    assert row.status == "failed" and "is named" in row.last_error


def _env(database_url: str, redis_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "COVET_ENV": "testing",
            "SECRET_KEY": "s" * 40, "PYTHONPATH": str(ROOT)}


def _start_worker(env: dict, *queues: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "worker.py", *queues], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=open(WORKER_LOG, "a") if WORKER_LOG else subprocess.DEVNULL)  # noqa: SIM115


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=60)


def _wait_until(condition, what: str, timeout: float = 90):
    """Poll for something another process does (a deadline, not a guess at how long it takes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@requires_redis_server
def test_a_job_whose_worker_was_killed_mid_run_is_sent_again(app, db, database_url, make_store, redis_conn):
    store = make_store("kestrel")
    token = uuid.uuid4().hex
    enqueue(sample_jobs.rename_store_after_first_try_hangs, store.id, "Kestrel & Co", token)
    db.session.commit()
    worker = _start_worker(_env(database_url, REDIS_URL), "default")
    try:
        assert redis_conn.blpop([f"covet-test:started:{token}"], timeout=90), "the job never started"
    finally:
        _stop(worker, signal.SIGKILL)  # the worker and its work horse die mid-job
    counts = recover_lost_jobs(app, now=utcnow() + LATER)  # after the job's timeout: RQ calls it abandoned
    assert counts["lost"] == 1
    assert "worker died" in outbox_row(db).last_error
    run_burst(redis_conn, "default")
    db.session.expire_all()
    assert db.session.get(Store, store.id).name == "Kestrel & Co"
    assert outbox_row(db) is None
    assert FailedJobRegistry("default", connection=redis_conn).count == 0  # the abandoned copy is gone


def _periodic_booked(connection) -> bool:
    ids = ScheduledJobRegistry("high", connection=connection).get_job_ids()
    return any(job_id.startswith("periodic-recover-lost-jobs-") for job_id in ids)


def test_worker_recovers_at_start_and_outlives_a_redis_restart(tmp_path, database_url, db, make_store,
                                                              private_redis):
    app = build_app(database_url, tmp_path, REDIS_URL=private_redis.url)
    connection = redis.Redis.from_url(private_redis.url)
    with app.app_context():
        first, second = make_store("aurore"), make_store("brume")
        enqueue(sample_jobs.rename_store, first.id, "Aurore Paris")
        db.session.commit()
        private_redis.stop()  # Redis restarts empty before any worker took the job
        private_redis.start()
        db.session.execute(update(JobOutbox).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()  # as if the row's first check were due
        worker = _start_worker(_env(database_url, private_redis.url))
        try:
            _wait_until(lambda: _renamed(db, first.id, "Aurore Paris"), "the lost job to run")
            assert _periodic_booked(connection)
            private_redis.stop()  # an outage while the worker waits for jobs; back empty
            private_redis.start()
            connection = redis.Redis.from_url(private_redis.url)
            _wait_until(lambda: connection.exists(BOOKED_KEY), "the worker to re-book after the restart")
            assert _periodic_booked(connection) and worker.poll() is None
            enqueue(sample_jobs.rename_store, second.id, "Brume & Fils")
            db.session.commit()
            _wait_until(lambda: _renamed(db, second.id, "Brume & Fils"), "a new job after the outage")
        finally:
            _stop(worker)
        assert worker.returncode == 0  # SIGTERM: a warm shut down, not a crash


def _renamed(db, store_id: int, name: str) -> bool:
    db.session.expire_all()
    return db.session.scalar(select(Store.name).where(Store.id == store_id)) == name


def test_job_row_survives_until_finished_in_rq(app, db, make_store, redis_conn):
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Maison Lune")
    db.session.commit()
    job_id = outbox_row(db).job_id
    assert Job.fetch(job_id, connection=redis_conn).get_status() == "queued"


def test_background_handoff_delivers_after_the_response(app, db, make_store, redis_conn):
    """JOBS_HANDOFF=background (production's default): the commit returns at once and a thread of this
    process pushes the row to RQ; the job then runs and takes its row with it."""
    from covet.jobs import handoff

    app.config["JOBS_HANDOFF"] = "background"
    store = make_store("lune")
    enqueue(sample_jobs.rename_store, store.id, "Maison Lune")
    db.session.commit()
    handoff.wait_idle()
    assert outbox_row(db).status == "queued"
    run_burst(redis_conn, "default")
    db.session.expire_all()
    assert db.session.get(Store, store.id).name == "Maison Lune"
    assert outbox_row(db) is None
