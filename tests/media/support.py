"""Helpers behind the media fixtures (tests/media/conftest.py and tests/browser/test_media_panel.py)."""
from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import requests
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from covet.catalog.models import Product
from covet.extensions import db
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.media.s3 import s3_client
from covet.storefront.cache import cache_redis
from tests.conftest import build_app, csrf_from

REGION = "ca-central-1"
BUCKET = "covet-media-test"


@contextmanager
def own_cache_prefix(app):
    """Cache invalidations requested by media changes stay under one test's prefix, removed afterwards."""
    prefix = f"covet:test-{uuid.uuid4().hex[:12]}:"
    app.config["CACHE_KEY_PREFIX"] = prefix
    yield prefix
    wait_for_embedded_jobs()
    client = cache_redis()
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@contextmanager
def moto_server():
    """S3 and KMS on a moto server bound to loopback; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class S3Setup:
    endpoint: str
    bucket: str
    kms_key_arn: str
    client: object

    def object_keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))


def s3_settings(endpoint: str) -> dict:
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing"}


def fresh_bucket(app, endpoint: str) -> S3Setup:
    """Reset moto, make a KMS key and a bucket, and point the app's media at them with SSE-KMS."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    settings = s3_settings(endpoint)
    kms = boto3.client("kms", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    key_arn = kms.create_key(Description="covet media")["KeyMetadata"]["Arn"]
    client = s3_client(settings)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    app.config.update(settings, AWS_S3_BUCKET=BUCKET, AWS_S3_SSE_KMS_KEY_ID=key_arn)
    return S3Setup(endpoint, BUCKET, key_arn, client)


def new_product(store, title="Silk scarf") -> Product:
    product = Product(store_id=store.id, title=title, slug=f"p-{uuid.uuid4().hex[:8]}")
    db.session.add(product)
    db.session.commit()
    return product


@contextmanager
def serving(database_url, instance_path, **overrides):
    """The app served from a thread on loopback; the app object keeps its base URL, jobs and media root."""
    served = build_app(database_url, instance_path, **overrides)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield served
    finally:
        server.shutdown()
        thread.join(timeout=10)
        wait_for_embedded_jobs()
        with served.app_context():
            db.engine.dispose()


@contextmanager
def serving_with_s3(database_url, instance_path, s3: S3Setup):
    """Served with S3 on moto (SSE-KMS); the bucket lets the served origin PUT, as the seed's CORS step says."""
    with serving(database_url, instance_path, AWS_S3_BUCKET=s3.bucket, AWS_S3_SSE_KMS_KEY_ID=s3.kms_key_arn,
                 **s3_settings(s3.endpoint)) as served:
        s3.client.put_bucket_cors(Bucket=s3.bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [served.base_url], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}]})
        yield served


class Uploader:
    """Drives the JSON endpoints and the presigned PUT the way media.js does."""

    def __init__(self, client, product):
        self.client, self.product = client, product
        page = client.get(f"/admin/products/{product.id}/media")
        self.csrf = csrf_from(page.get_data(as_text=True))

    def presign(self, filename: str, content_type: str, size: int):
        return self.client.post(f"/admin/products/{self.product.id}/media/uploads",
                                json={"filename": filename, "content_type": content_type, "size": size},
                                headers={"X-CSRFToken": self.csrf})

    def put(self, upload: dict, data: bytes):
        if upload["url"].startswith("/"):  # local disk: our own endpoint
            return self.client.put(upload["url"], data=data, headers=upload["headers"])
        return requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30)

    def confirm(self, url: str):
        return self.client.post(url, headers={"X-CSRFToken": self.csrf})

    def upload(self, data: bytes, content_type: str = "image/jpeg", filename: str = "photo.jpg") -> int:
        presigned = self.presign(filename, content_type, len(data))
        assert presigned.status_code == 201, presigned.get_json()
        body = presigned.get_json()
        stored = self.put(body["upload"], data)
        assert stored.status_code == 200, getattr(stored, "text", None) or stored.get_data(as_text=True)
        confirmed = self.confirm(body["confirm_url"])
        assert confirmed.status_code == 200, confirmed.get_json()
        return body["media_id"]
