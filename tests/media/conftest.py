"""Media fixtures: S3 and KMS on a local moto server, products, a job runner for both modes."""
from __future__ import annotations

import uuid

import pytest
from rq import Queue, SimpleWorker

from covet.jobs.embedded import wait_for_embedded_jobs
from covet.redis_client import get_redis
from tests.conftest import REDIS_URL
from tests.media.support import Uploader, fresh_bucket, new_product, own_cache_prefix


@pytest.fixture(autouse=True)
def cache_prefix(app):
    with own_cache_prefix(app) as prefix:
        yield prefix


@pytest.fixture
def s3(app, moto_endpoint):
    """A fresh bucket and KMS key on moto; the app stores media there with SSE-KMS."""
    return fresh_bucket(app, moto_endpoint)


@pytest.fixture
def make_product(db, make_store):
    def make(store=None, title="Silk scarf"):
        return new_product(store or make_store(f"store-{uuid.uuid4().hex[:6]}"), title)
    return make


@pytest.fixture
def run_jobs(app, db, request):
    """Run the queued image jobs now: a real RQ SimpleWorker burst on `low`, or the in-process thread."""
    if REDIS_URL:
        request.getfixturevalue("redis_conn")  # RQ's keys cleared before and after

    def run() -> None:
        db.session.commit()
        if REDIS_URL:
            SimpleWorker([Queue("low", connection=get_redis())], connection=get_redis()).work(burst=True)
        else:
            wait_for_embedded_jobs()
        db.session.expire_all()
    return run


@pytest.fixture
def uploader(client, login_as, make_product):
    """A signed-in admin's uploader for a fresh product."""
    login_as("admin")
    return Uploader(client, make_product())
