"""Shared fixtures.

Database: DATABASE_URL set (CI) → a fresh PostgreSQL database per run, built by the real migration;
unset → a SQLite file. Redis: REDIS_URL set → real Redis (rate limits, health); unset → embedded mode.

Parallel runs (pytest-xdist, `-n 2` in pyproject.toml): every worker process is a run of its own — its own
PostgreSQL database (`covet_test_<pid>`) or SQLite file, its own servers on free ports (moto, localstripe,
the Stripe fake, SMTP sinks, served apps), and its own Redis database number: a run claims the first free
number at or below REDIS_URL's (a `covet-test-run` key set NX, released at exit), so neither a second
worker nor a second run in the same checkout sees or clears its queues. Without REDIS_URL each test
gets its own fakeredis server.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from covet import create_app
from covet.extensions import db as _db
from covet.extensions import limiter
from covet.jobs.embedded import wait_for_embedded_jobs

PG_URL = os.environ.get("DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
if os.environ.get("COVET_REQUIRE_SERVICES") == "1":
    # CI: a test silently skipped for want of a service would hide a failure.
    missing = [name for name, ok in (("DATABASE_URL", PG_URL), ("REDIS_URL", REDIS_URL),
                                     (CHROMIUM, os.path.exists(CHROMIUM))) if not ok]
    if missing:
        raise RuntimeError(f"COVET_REQUIRE_SERVICES=1 but missing: {', '.join(missing)}")
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
REDIS_LOCK_KEY = "covet-test-run"  # outside the rq:* / covet:* patterns that tests clear
REDIS_LOCK_TTL = 3 * 3600  # a run killed without cleanup frees its number after this


def claim_redis_database(url: str) -> str:
    """REDIS_URL with the database number changed to the first one (from its own, downwards) that no other
    test run or xdist worker holds; claimed for this process and released when it exits."""
    import redis

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    for number in range(base, 0 if base else -1, -1):  # database 0 (a developer's default) only if asked for
        candidate = urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, ""))
        connection = redis.Redis.from_url(candidate, socket_connect_timeout=2)
        try:
            claimed = connection.set(REDIS_LOCK_KEY, RUN_ID, nx=True, ex=REDIS_LOCK_TTL)
        except redis.RedisError:
            return url  # no server (or no such database): tests that need it say so themselves
        if claimed:
            atexit.register(_release_redis_database, connection)
            return candidate
        connection.close()
    raise RuntimeError(f"every Redis database from {base} down to 1 is held by another test run "
                       f"(key {REDIS_LOCK_KEY}); wait for them or delete the stale keys")


def _release_redis_database(connection) -> None:
    import contextlib

    with contextlib.suppress(Exception):
        if connection.get(REDIS_LOCK_KEY) == RUN_ID.encode():
            connection.delete(REDIS_LOCK_KEY)


def pytest_configure(config):
    """Claim this process's Redis database before test modules import REDIS_URL; the xdist controller, which
    runs no tests, claims none."""
    global REDIS_URL
    controller = getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput")
    if REDIS_URL and not controller:
        REDIS_URL = claim_redis_database(REDIS_URL)
        os.environ["REDIS_URL"] = REDIS_URL  # worker subprocesses started with os.environ use it too


# The longest tests start first, so that under xdist they run beside the short ones instead of after them.
RUN_FIRST = ("tests/webhooks/test_torture.py::",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.nodeid.startswith(RUN_FIRST))  # stable: the rest keep their order


requires_postgres = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (set DATABASE_URL)")
requires_redis = pytest.mark.skipif(not REDIS_URL, reason="needs Redis (set REDIS_URL)")


def free_port() -> int:
    """A TCP port on loopback nobody is listening on (for servers that need the number up front)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pytest_report_header(config):
    # Under xdist this is the controller's view: each worker claims its own Redis database number.
    return [f"covet database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (PostgreSQL-only tests skipped)'}",
            f"covet redis: {REDIS_URL or 'none (embedded mode; Redis-only tests skipped)'}",
            f"covet browser: {CHROMIUM if os.path.exists(CHROMIUM) else 'no Chromium (browser tests skipped)'}"]


def _run_on_server(base_url: str, *statements: str) -> None:
    """Run statements on the server's `postgres` database, outside a transaction."""
    parts = urlsplit(base_url)
    admin = create_engine(urlunsplit(("postgresql+psycopg", parts.netloc, "/postgres", "", "")),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def make_postgres_database(base_url: str, name: str) -> str:
    """Create an empty database next to the one in base_url; return its URL. Commits in it do not wait for the
    WAL to reach disk (`synchronous_commit = off`): the same transactions, locks and visibility, only not
    durable across a server crash, which no test needs; it roughly halves the time of commit-heavy tests."""
    _run_on_server(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"',
                   f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def drop_postgres_database(base_url: str, name: str) -> None:
    _run_on_server(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environ_for_tests(database_url: str | None, tmp_path, **extra) -> dict:
    env = {"COVET_ENV": "testing", "SECRET_KEY": "test-secret-" + "x" * 32}
    if database_url:
        env["DATABASE_URL"] = database_url
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
    env.update(extra)
    return env


TEST_OVERRIDES = {
    "TESTING": True,
    # Cheap Argon2 for speed; the same code path as production.
    "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1,
    "STARTUP_CHECKS": False,
}


class IsolatedClient(FlaskClient):
    """A test client whose requests never share `g` with the test's own app context (as in production)."""

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


def build_app(database_url: str | None, instance_path, **overrides):
    os.environ["COVET_INSTANCE_PATH"] = str(instance_path)
    # Flask-Limiter keeps the first app's key prefix on its global object; each test app gets its own
    # prefix so counters in a shared Redis never leak between tests.
    limiter._key_prefix = ""
    try:
        app = create_app({**TEST_OVERRIDES, "RATELIMIT_KEY_PREFIX": f"covet-test-{uuid.uuid4().hex}",
                          "CACHE_KEY_PREFIX": f"covet-test-{uuid.uuid4().hex}:", **overrides},
                         environ=environ_for_tests(database_url, instance_path))
    finally:
        os.environ.pop("COVET_INSTANCE_PATH", None)
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """One migrated database for the run."""
    from flask_migrate import upgrade

    if PG_URL:
        name = f"covet_test_{os.getpid()}"
        url = make_postgres_database(PG_URL, name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = build_app(url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    yield url
    if PG_URL:
        drop_postgres_database(PG_URL, name)


def _empty_tables() -> None:
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            _db.session.execute(text(f"DELETE FROM {name}"))
    _db.session.commit()


@pytest.fixture
def app(database_url, tmp_path):
    app = build_app(database_url, tmp_path)
    with app.app_context():
        yield app
        wait_for_embedded_jobs()
        _db.session.remove()
        _empty_tables()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or \
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_store(db):
    from covet.stores.models import Store

    def make(slug="maison", currency="eur", **kw):
        store = Store(name=kw.pop("name", slug.title()), slug=slug, currency=currency, **kw)
        db.session.add(store)
        db.session.commit()
        return store
    return make


@pytest.fixture
def make_user(db, make_store):
    from covet.accounts.models import User
    from covet.accounts.passwords import hash_password

    def make(role="staff", email=None, store=None, password=PASSWORD, **kw):
        if role == "merchant" and store is None:
            store = make_store(f"store-{uuid.uuid4().hex[:6]}")
        user = User(email=email or f"{role}-{uuid.uuid4().hex[:6]}@covet.test", role=role,
                    password_hash=hash_password(password), store_id=store.id if store else None, **kw)
        db.session.add(user)
        db.session.commit()
        return user
    return make


def login(client, email, password=PASSWORD, follow=False):
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password,
                                             "csrf_token": csrf_from(page.get_data(as_text=True))},
                       follow_redirects=follow)


@pytest.fixture
def login_as(client, make_user):
    """Sign a fresh user with `role` in on the test client; returns the user."""
    def sign_in(role="staff", **kw):
        user = make_user(role, **kw)
        response = login(client, user.email)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return user
    return sign_in


@pytest.fixture
def live_server(app, database_url, tmp_path):
    """The app served from a thread; returns its base URL. Test data goes in through `app`'s database."""
    served = build_app(database_url, tmp_path / "served")
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    with served.app_context():
        _db.engine.dispose()


@pytest.fixture
def htmx_headers():
    return {"HX-Request": "true", "HX-Request-Type": "partial"}


@pytest.fixture
def redis_conn(app):
    """Redis for RQ: the real one (REDIS_URL, keys cleared before and after), else an in-process fakeredis
    that `app` is switched to, so job tests run everywhere; only tests needing a real server skip."""
    if not REDIS_URL:
        import fakeredis

        connection = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        app.config["REDIS_URL"] = "redis://fakeredis.invalid:6379/0"
        app.extensions["covet_redis"] = connection
        yield connection
        app.config["REDIS_URL"] = None
        app.extensions.pop("covet_redis", None)
        return
    import redis

    connection = redis.Redis.from_url(REDIS_URL)

    def clear():
        for pattern in ("rq:*", "covet:*"):
            keys = list(connection.scan_iter(pattern, count=1000))
            if keys:
                connection.delete(*keys)
    clear()
    yield connection
    clear()


requires_redis_server = pytest.mark.skipif(not REDIS_URL, reason="needs a real Redis server (REDIS_URL): "
                                           "worker subprocesses or a server the test stops and starts")


@pytest.fixture
def log_lines():
    """The JSON log lines written during the test, parsed."""
    import io
    import json
    import logging

    from covet.observability import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel("INFO")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture(scope="session")
def moto_endpoint():
    """One moto server (S3, KMS, CloudFront) on loopback for the whole run; tests reset or isolate state."""
    from tests.media.support import moto_server

    with moto_server() as endpoint:
        yield endpoint


# --- Stripe peers ---
@pytest.fixture(scope="session")
def localstripe():
    """localstripe on a free loopback port for the whole run; yields its base URL (see fresh_localstripe)."""
    from tests.stripe_peers import localstripe_server

    with localstripe_server() as base_url:
        yield base_url


@pytest.fixture
def fresh_localstripe(localstripe):
    """localstripe emptied (objects and webhook endpoints) for this test; returns its base URL."""
    from tests.stripe_peers import reset_localstripe

    reset_localstripe(localstripe)
    return localstripe


@pytest.fixture(scope="session")
def _stripe_fake_server():
    from tests.stripe_peers import StripeFake

    fake = StripeFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_fake(_stripe_fake_server):
    """The Stripe fake for what localstripe lacks, emptied for this test; fake.set_stripe_config(app) uses it."""
    _stripe_fake_server.reset()
    return _stripe_fake_server


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of our own that the test can stop and start again on the same port."""
    binary = shutil.which("redis-server")
    if not binary or not REDIS_URL:
        pytest.skip("needs redis-server and REDIS_URL")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process = None

        def start(self):
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            for line in self.process.stdout:  # redis-server says when it is ready: no guessing with sleeps
                if "Ready to accept connections" in line:
                    return
            raise RuntimeError("redis-server exited before it was ready")

        def stop(self):
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process.stdout.close()

    server = Server()
    server.start()
    yield server
    if server.process.returncode is None:
        server.stop()
