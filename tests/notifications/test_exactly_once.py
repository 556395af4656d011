"""Three enqueues of one email and a worker killed mid-send still deliver exactly one message."""
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

from rq import Queue, SimpleWorker
from sqlalchemy import select, update

from covet.dbtypes import utcnow
from covet.notifications import services
from covet.notifications.catalog import TEMPLATES
from covet.notifications.models import EmailOutbox
from tests.conftest import REDIS_URL, build_app, requires_redis_server

ROOT = Path(__file__).resolve().parents[2]
DEMO = TEMPLATES["order_confirmation"].demo


@requires_redis_server
def test_killed_worker_mid_send_then_sweeper_sends_exactly_once(app, db, database_url, tmp_path, smtp_sink,
                                                                 redis_conn):
    sender = build_app(database_url, tmp_path, SMTP_URL=smtp_sink.url)
    with sender.app_context():
        for _ in range(3):
            services.queue_email("order_confirmation", "olivia@example.com", DEMO, "order-confirmation:CV-1042")
            db.session.commit()
        assert Queue("high", connection=redis_conn).count == 1  # one job, not three

        smtp_sink.stall_rcpt = True  # the SMTP conversation stops after RCPT TO until released
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "COVET_ENV": "testing",
               "SECRET_KEY": "s" * 40, "SMTP_URL": smtp_sink.url, "PYTHONPATH": str(ROOT)}
        # --simple: the job runs in the worker process itself, so the SIGKILL lands on the sender.
        worker = subprocess.Popen([sys.executable, "worker.py", "high", "--burst", "--simple"], cwd=ROOT, env=env,
                                  start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert smtp_sink.rcpt_seen.wait(60), "the worker never reached the SMTP server"
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse die mid-send
        worker.wait(timeout=30)
        smtp_sink.stall_rcpt = False
        smtp_sink.release.set()

        row = db.session.scalar(select(EmailOutbox))
        assert row.status == "sending" and smtp_sink.messages == []
        # Time passes: the send's lease runs out (we move the clock of the row, not the test's).
        db.session.execute(update(EmailOutbox).values(locked_until=utcnow() - dt.timedelta(seconds=1),
                                                      created_at=utcnow() - dt.timedelta(minutes=5)))
        db.session.commit()
        for _ in range(2):  # the scheduled sweeper runs twice; the second finds nothing to do
            services.requeue_stalled()
            SimpleWorker([Queue("high", connection=redis_conn)], connection=redis_conn).work(burst=True)

        assert len(smtp_sink.messages) == 1
        assert smtp_sink.messages[0]["to"] == ["olivia@example.com"]
        db.session.refresh(row)
        assert row.status == "sent" and row.attempts == 2
