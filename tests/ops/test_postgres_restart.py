"""PostgreSQL restarts under a serving app (a throwaway cluster the test starts and stops): requests in the
gap get a clear 503 page (JSON for the API), liveness stays 200, and the first request after PostgreSQL is
back succeeds — the pool reconnects by itself (pool_pre_ping)."""
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from covet.extensions import db
from tests.conftest import PASSWORD, build_app, csrf_from, free_port

BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """A PostgreSQL cluster in a temporary directory, run as the postgres user (initdb refuses root)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="covet-pg-")
        self.port = free_port()
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._run(BIN / "initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=2"

    def _run(self, *command) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True, timeout=120)

    def start(self) -> None:  # -w: pg_ctl waits until the server accepts connections
        self._run(BIN / "pg_ctl", "-D", f"{self.dir}/data", "-w", "-l", f"{self.dir}/log",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run(BIN / "pg_ctl", "-D", f"{self.dir}/data", "-w", "-m", "fast", "stop")


@pytest.fixture
def cluster():
    if not (BIN / "initdb").exists() or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("needs PostgreSQL 15's initdb/pg_ctl (and runuser when run as root)")
    made = Cluster()
    made.start()
    yield made
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        made.stop()
    shutil.rmtree(made.dir, ignore_errors=True)


def test_a_postgres_restart_is_a_503_then_the_pool_recovers(cluster, tmp_path):
    from flask_migrate import upgrade

    from covet.accounts.models import User
    from covet.accounts.passwords import hash_password

    app = build_app(cluster.url, tmp_path)
    with app.app_context():
        upgrade()
        db.session.add(User(email="staff@covet.test", role="staff", password_hash=hash_password(PASSWORD)))
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base, session = f"http://127.0.0.1:{server.server_port}", requests.Session()
    try:
        login = session.get(f"{base}/admin/login", timeout=10)
        session.post(f"{base}/admin/login", data={"email": "staff@covet.test", "password": PASSWORD,
                                                  "csrf_token": csrf_from(login.text)}, timeout=10)
        assert session.get(f"{base}/admin/orders/", timeout=10).status_code == 200

        cluster.stop()
        page = session.get(f"{base}/admin/orders/", timeout=10)
        assert page.status_code == 503 and "database is unavailable" in page.text
        assert page.headers["Retry-After"] == "5" and "Traceback" not in page.text
        assert requests.get(f"{base}/api/health", timeout=10).status_code == 200  # the process still serves
        ready = requests.get(f"{base}/api/health/detailed", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == {"status": "down"}

        cluster.start()
        assert session.get(f"{base}/admin/orders/", timeout=10).status_code == 200  # no restart of the app
        assert requests.get(f"{base}/api/health/detailed", timeout=10).status_code == 200
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
