"""Probes for each backing service, shared by start-up checks, health and the doctor."""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from flask import Flask
from sqlalchemy import text

from covet.extensions import db
from covet.redis_client import get_redis


@dataclass
class CheckResult:
    name: str
    status: str  # ok | down | not_configured | embedded
    latency_ms: float | None = None
    detail: str = ""
    required: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(name: str, required: bool, probe) -> CheckResult:
    started = time.perf_counter()
    try:
        status, detail = probe()
    except Exception as exc:  # a probe reports any failure as "down" with its message
        status, detail = "down", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    return CheckResult(name, status, round((time.perf_counter() - started) * 1000, 2), detail, required)


def check_database(app: Flask) -> CheckResult:
    def probe():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return "ok", db.engine.dialect.name
    return _timed("database", True, probe)


def check_redis(app: Flask) -> CheckResult:
    client = get_redis(app)
    if client is None:
        return CheckResult("redis", "embedded", None, "REDIS_URL unset: jobs run in-process, limits in memory", False)
    return _timed("redis", True, lambda: ("ok" if client.ping() else "down", ""))


def check_storage(app: Flask) -> CheckResult:
    bucket = app.config.get("AWS_S3_BUCKET")
    if not bucket:
        root = app.config["MEDIA_ROOT"]

        def local_probe():
            os.makedirs(root, exist_ok=True)
            return ("ok", root) if os.access(root, os.W_OK) else ("down", f"{root} is not writable")
        return _timed("storage", True, local_probe)

    def s3_probe():
        from covet.media.s3 import s3_client

        s3_client(app.config).head_bucket(Bucket=bucket)
        return "ok", f"s3://{bucket}"
    return _timed("storage", True, s3_probe)


def check_stripe(app: Flask) -> CheckResult:
    key = app.config.get("STRIPE_SECRET_KEY")
    if not key:
        return CheckResult("stripe", "not_configured", None, "STRIPE_SECRET_KEY unset: checkout disabled", False)
    missing = [v for v in ("STRIPE_WEBHOOK_SECRET",) if not app.config.get(v)]
    mode = "test" if key.startswith(("sk_test_", "rk_test_")) else "live"
    if missing:
        return CheckResult("stripe", "down", None, f"{mode} key set but {', '.join(missing)} missing", False)
    return CheckResult("stripe", "ok", None, f"{mode} mode, webhook secret set", False)


def check_queues(app: Flask) -> CheckResult:
    client = get_redis(app)
    if client is None:
        return CheckResult("queues", "embedded", None, "jobs run in-process", False)

    def probe():
        from rq import Queue

        depths = {name: Queue(name, connection=client).count for name in ("high", "default", "low")}
        return "ok", ", ".join(f"{k}={v}" for k, v in depths.items())
    return _timed("queues", False, probe)
