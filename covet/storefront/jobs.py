"""RQ entry points for the storefront: purge invalidated pages, then the revalidate hook and CloudFront."""
from __future__ import annotations

import time
import uuid

import boto3
import redis
import requests
from botocore.config import Config
from flask import current_app

from covet.jobs import job
from covet.observability import get_logger
from covet.storefront.cache import cache_redis, key, purge

MAX_INVALIDATION_PATHS = 3000  # CloudFront's limit per batch; above it one wildcard is cheaper anyway
REVALIDATE_ATTEMPTS = 3
REVALIDATE_TIMEOUT = 3
RUN_TTL = 24 * 3600  # a run's leftovers outlive RQ's retries (5 + 30 + 120 s), then go


class RevalidateError(RuntimeError):
    """The revalidate endpoint kept failing; the job raises so RQ retries the paths still due."""


@job(queue="default", timeout=120, retry=(5, 30, 120))
def purge_pending_tags(run_id: str | None = None) -> dict:
    """Purge pages under the pending tags, then revalidate their paths and invalidate them on CloudFront."""
    cfg, client = current_app.config, cache_redis()
    run = _RunKeys(run_id or uuid.uuid4().hex)
    # Clear the flag first, then take the set. A change landing after the clear finds no flag and
    # schedules a run of its own; one landing before it is already in the set we take. The other
    # order would leave a gap where a change sees the flag, skips scheduling, and misses our take.
    client.delete(key("invalidate:scheduled"))
    tags = _take_pending(client, run)
    counts = {"tags": len(tags), "keys_deleted": 0, "paths": 0, "cloudfront_paths": 0, "revalidated": 0}
    if tags:
        result = purge(tags)
        counts.update(keys_deleted=result.keys_deleted, paths=len(result.paths))
        _remember_paths(client, run, result.paths, cdn=bool(cfg.get("CLOUDFRONT_DISTRIBUTION_ID")),
                        hook=bool(cfg.get("REVALIDATE_URL")))
    # Origin before edge: CloudFront refetching before the origin has revalidated would cache the stale page
    # again. On an RQ retry the purge is done; only the calls still due (kept under the run's keys) are made.
    counts["revalidated"] = _revalidate(client, run)
    counts["cloudfront_paths"] = _invalidate_cloudfront(client, run)
    if any(counts.values()):
        get_logger("covet.storefront").info("cache_purged", extra={"run_id": run.run_id, **counts})
    return counts


class _RunKeys:
    """Where one run keeps its work between attempts, so a retry resumes instead of starting over."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.tags = key(f"invalidate:run:{run_id}:tags")
        self.cdn = key(f"invalidate:run:{run_id}:cloudfront")
        self.hook = key(f"invalidate:run:{run_id}:revalidate")


def _take_pending(client, run: _RunKeys) -> list[str]:
    """Move the pending tags to this run (first attempt only); return the tags still to purge."""
    if not client.exists(run.tags, run.cdn, run.hook):
        try:
            client.rename(key("invalidate:pending"), run.tags)  # atomic: a concurrent SADD lands before or after
            client.expire(run.tags, RUN_TTL)
        except redis.ResponseError:
            return []  # nothing pending
    return sorted(tag.decode() for tag in client.smembers(run.tags))


def _remember_paths(client, run: _RunKeys, paths: tuple[str, ...], cdn: bool, hook: bool) -> None:
    pipe = client.pipeline(transaction=True)
    for wanted, name in ((cdn, run.cdn), (hook, run.hook)):
        if wanted and paths:
            pipe.sadd(name, *paths)
            pipe.expire(name, RUN_TTL)
    pipe.delete(run.tags)
    pipe.execute()


def cloudfront_client(cfg: dict):
    """A CloudFront client with timeouts and retries (and AWS_ENDPOINT_URL for a local fake)."""
    return boto3.client(
        "cloudfront",
        region_name="us-east-1",  # CloudFront is global; its API lives in us-east-1
        endpoint_url=cfg.get("AWS_ENDPOINT_URL"),
        aws_access_key_id=cfg.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=cfg.get("AWS_SECRET_ACCESS_KEY"),
        config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}),
    )


def _invalidate_cloudfront(client, run: _RunKeys) -> int:
    """One CreateInvalidation for all of the run's paths; returns how many paths it named."""
    cfg = current_app.config
    paths = sorted(path.decode() for path in client.smembers(run.cdn))
    if not paths or not cfg.get("CLOUDFRONT_DISTRIBUTION_ID"):
        return 0
    items = paths if len(paths) <= MAX_INVALIDATION_PATHS else ["/*"]
    # The run id is the CallerReference: a retry resending the same batch is a no-op for CloudFront.
    cloudfront_client(cfg).create_invalidation(
        DistributionId=cfg["CLOUDFRONT_DISTRIBUTION_ID"],
        InvalidationBatch={"Paths": {"Quantity": len(items), "Items": items}, "CallerReference": f"covet-{run.run_id}"},
    )
    client.delete(run.cdn)
    return len(items)


def _revalidate(client, run: _RunKeys) -> int:
    """POST the revalidate hook once per path; a path leaves the run only once the hook accepted it."""
    cfg = current_app.config
    paths = sorted(path.decode() for path in client.smembers(run.hook))
    if not paths or not cfg.get("REVALIDATE_URL"):
        return 0
    with requests.Session() as http:
        for path in paths:
            _post_revalidate(http, cfg, path)  # raises: the rest wait for RQ's retry, not N more timeouts
            client.srem(run.hook, path)
    return len(paths)


def _post_revalidate(http: requests.Session, cfg, path: str) -> None:
    delays = cfg.get("REVALIDATE_BACKOFF") or (0.5, 2)  # seconds between attempts
    secret = cfg.get("REVALIDATE_SECRET") or ""
    error: Exception | None = None
    for attempt in range(REVALIDATE_ATTEMPTS):
        if attempt:
            time.sleep(delays[min(attempt - 1, len(delays) - 1)])
        try:
            # The header is ours; the `secret` parameter is what Next.js's revalidate examples read.
            response = http.post(cfg["REVALIDATE_URL"], params={"path": path, "secret": secret},
                                 headers={"x-revalidate-secret": secret}, timeout=REVALIDATE_TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            error = exc
            continue
        if response.status_code < 500:
            if response.status_code >= 400:  # a wrong secret or URL: retrying now cannot help
                raise RevalidateError(f"revalidate {path}: HTTP {response.status_code}")
            return
        error = RuntimeError(f"HTTP {response.status_code}")
    raise RevalidateError(f"revalidate {path}: {error} after {REVALIDATE_ATTEMPTS} attempts") from error
