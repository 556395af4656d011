"""Storefront fixtures: a cache prefix per test, a job runner for both modes, local CloudFront and revalidate."""
from __future__ import annotations

import contextlib
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from covet.jobs.embedded import wait_for_embedded_jobs
from covet.jobs.models import JobOutbox
from covet.redis_client import get_redis
from covet.storefront.cache import cache_redis
from covet.storefront.jobs import cloudfront_client
from tests.conftest import REDIS_URL


@pytest.fixture(autouse=True)
def cache_prefix(app):
    """Every test writes under its own prefix in the shared Redis, and removes exactly those keys."""
    prefix = f"covet:test-{uuid.uuid4().hex[:12]}:"
    app.config["CACHE_KEY_PREFIX"] = prefix
    app.config["REVALIDATE_BACKOFF"] = (0.001, 0.001)  # retries without waiting in tests
    yield prefix
    wait_for_embedded_jobs()  # a job on the in-process thread may still be writing under the prefix
    client = cache_redis()
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@dataclass
class Ran:
    job_id: str
    status: str  # finished, scheduled (an RQ / outbox retry is due), failed
    args: list | None
    error: str | None  # RQ keeps no traceback for an attempt it retries: only the outbox has one then
    retries_left: int | None = None


@pytest.fixture
def run_jobs(app, db):
    """Run scheduled jobs now: RQ jobs leave the scheduler for a private queue and one SimpleWorker burst;
    in embedded mode, wait for the in-process thread (it ran them at commit)."""
    queue_name = f"covet-test-{uuid.uuid4().hex[:12]}"
    seen: list[str] = []

    def run(*job_ids: str | None) -> list[Ran]:
        ids = [job_id for job_id in job_ids if job_id]
        seen.extend(ids)
        if not REDIS_URL:
            wait_for_embedded_jobs()
            return [_embedded_outcome(db, job_id) for job_id in ids]
        connection = get_redis()
        queue = Queue(queue_name, connection=connection)
        scheduled = ScheduledJobRegistry(queue=Queue("default", connection=connection))
        for job_id in ids:
            job = Job.fetch(job_id, connection=connection)
            assert job.get_status() == "scheduled", "the purge job should wait out the coalescing delay"
            scheduled.remove(job)
            queue.enqueue_job(job)
        SimpleWorker([queue], connection=connection).work(burst=True, with_scheduler=True)
        return [_rq_outcome(Job.fetch(job_id, connection=connection)) for job_id in ids]

    yield run
    if REDIS_URL:
        connection = get_redis()
        for job_id in seen:
            with contextlib.suppress(NoSuchJobError):
                Job.fetch(job_id, connection=connection).delete()
            connection.delete(f"rq:results:{job_id}")
        Queue(queue_name, connection=connection).delete(delete_jobs=True)


def _rq_outcome(job: Job) -> Ran:
    result = job.latest_result()
    return Ran(job.id, job.get_status(), list(job.args), getattr(result, "exc_string", None), job.retries_left)


def _embedded_outcome(db, job_id: str) -> Ran:
    db.session.expire_all()
    row = db.session.scalar(select(JobOutbox).where(JobOutbox.job_id == job_id))
    if row is None:
        return Ran(job_id, "finished", None, None)  # a job that ran cleanly leaves the outbox
    return Ran(job_id, "failed" if row.status == "failed" else "scheduled", row.args, row.last_error)


@pytest.fixture
def cloudfront(app, moto_endpoint):
    """A CloudFront distribution on a local moto server; the app is configured to invalidate it."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    app.config.update(AWS_ENDPOINT_URL=moto_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    client = cloudfront_client(app.config)
    origin = {"Id": "storefront", "DomainName": "shop.covet.test",
              "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
    distribution = client.create_distribution(DistributionConfig={
        "CallerReference": uuid.uuid4().hex, "Comment": "covet test", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "storefront", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    })["Distribution"]
    app.config["CLOUDFRONT_DISTRIBUTION_ID"] = distribution["Id"]
    return client


class RevalidateEndpoint:
    """Records each request; answers with the scripted statuses first, then 200."""

    def __init__(self):
        self.calls: list[dict] = []
        self.script: list[int] = []
        self.lock = threading.Lock()

    def handler(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                with endpoint.lock:
                    endpoint.calls.append({"method": "POST", "path": url.path, "query": dict(parse_qsl(url.query)),
                                           "secret": self.headers.get("x-revalidate-secret")})
                    status = endpoint.script.pop(0) if endpoint.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def revalidate(app):
    """A revalidate hook on 127.0.0.1 in a thread; the app posts to it with secret `s3cret`."""
    endpoint = RevalidateEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), endpoint.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config.update(REVALIDATE_URL=f"http://127.0.0.1:{server.server_address[1]}/api/revalidate",
                      REVALIDATE_SECRET="s3cret")
    yield endpoint
    server.shutdown()
    server.server_close()
    thread.join()
