"""The storefront's page cache in Redis: pages registered under tags, purged by tag, bursts coalesced."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from covet.extensions import db
from covet.redis_client import get_redis

COALESCE_MS = 1000  # default window (CACHE_COALESCE_MS): changes within it share one purge run
_DELETE_CHUNK = 500  # keys per DEL: keeps each command short on a busy Redis
_TOKENS = "covet_invalidation_tokens"  # Session.info: flags this transaction set, released on rollback
_fake: dict = {}
_fake_lock = threading.Lock()


@dataclass(frozen=True)
class PurgeResult:
    keys_deleted: int
    paths: tuple[str, ...]


def cache_redis():
    """The cache's Redis: REDIS_URL's, or one in-process fakeredis in embedded mode."""
    client = get_redis()
    if client is not None:
        return client
    with _fake_lock:
        if "client" not in _fake:
            import fakeredis

            _fake["client"] = fakeredis.FakeRedis()
    return _fake["client"]


def key(name: str) -> str:
    """A cache key under CACHE_KEY_PREFIX (tests give each app its own prefix)."""
    return f"{current_app.config.get('CACHE_KEY_PREFIX') or 'covet:'}{name}"


def page_key(path: str) -> str:
    return key(f"page:{path}")


def path_of(page: bytes | str) -> str:
    """The URL path a page key was stored for (the key is the path, so the two never drift apart)."""
    text = page.decode() if isinstance(page, bytes) else page
    return text[len(page_key("")):]


def _tag_list(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str | bytes):
        raise TypeError("tags must be a list of tags such as ['product:42'], not one string")
    tags = sorted(set(tags))
    if not all(isinstance(tag, str) and tag.strip() for tag in tags):
        raise ValueError(f"tags must be non-empty strings, got {tags!r}")
    return tags


def store_page(path: str, body: str | bytes, tags: Iterable[str], ttl: int) -> None:
    """Cache one rendered page for `ttl` seconds and register it under each tag."""
    if not path.startswith("/") or ttl <= 0:
        raise ValueError("path must start with / and ttl must be positive")
    tags, page = _tag_list(tags), page_key(path)
    pipe = cache_redis().pipeline(transaction=True)
    pipe.set(page, body, ex=ttl)
    for tag in tags:
        pipe.sadd(key(f"tag:{tag}"), page)
        # The tag set lives as long as its longest-lived page, so expired pages do not pile up in it.
        pipe.expire(key(f"tag:{tag}"), ttl, nx=True)
        pipe.expire(key(f"tag:{tag}"), ttl, gt=True)
    pipe.execute()


def cached_page(path: str) -> bytes | None:
    """The cached body for `path`, if any."""
    return cache_redis().get(page_key(path))


def request_invalidation(tags: Iterable[str]) -> str | None:
    """Mark tags stale and schedule one purge run per second; the run goes out only when the caller commits.

    The run is written to the job outbox in the caller's transaction: a rolled-back change schedules
    nothing. Returns the scheduled job's id, or None when a run already scheduled will pick the tags up.
    """
    from covet.jobs import enqueue
    from covet.storefront.jobs import purge_pending_tags

    tags, client = _tag_list(tags), cache_redis()
    if not tags:
        return None
    # Add to the pending set before trying the flag: if the flag is taken, the run that holds it has
    # not yet taken the set (it clears the flag first), so these tags go with it.
    client.sadd(key("invalidate:pending"), *tags)
    token = uuid.uuid4().hex
    window = current_app.config.get("CACHE_COALESCE_MS") or COALESCE_MS
    if not client.set(key("invalidate:scheduled"), token, nx=True, px=window):
        return None
    db.session.info.setdefault(_TOKENS, []).append(token)
    return enqueue(purge_pending_tags, token, delay_seconds=max(1, window // 1000))


@event.listens_for(Session, "after_commit")
def _keep_flags(session: Session) -> None:
    session.info.pop(_TOKENS, None)


@event.listens_for(Session, "after_soft_rollback")
def _release_flags(session: Session, previous_transaction) -> None:
    """A rolled-back transaction's run never goes out: free its flag so the next change schedules one."""
    tokens = session.info.pop(_TOKENS, None) if not previous_transaction.nested else None
    if tokens and has_app_context():
        for token in tokens:
            _delete_if_equal(cache_redis(), key("invalidate:scheduled"), token)


def _delete_if_equal(client, name: str, value: str) -> None:
    with client.pipeline() as pipe:
        try:
            pipe.watch(name)
            if pipe.get(name) == value.encode():
                pipe.multi()
                pipe.delete(name)
                pipe.execute()
        except redis.WatchError:
            pass  # another request replaced the flag: it is theirs now


def purge(tags: Iterable[str]) -> PurgeResult:
    """Delete every page registered under the tags, and the tag sets; return what was affected."""
    tags, client = _tag_list(tags), cache_redis()
    if not tags:
        return PurgeResult(0, ())
    tag_keys = [key(f"tag:{tag}") for tag in tags]
    pipe = client.pipeline(transaction=True)  # read and drop the sets at once: a page stored later stays tagged
    for tag_key in tag_keys:
        pipe.smembers(tag_key)
    pipe.delete(*tag_keys)
    *members, _ = pipe.execute()
    pages = sorted(set().union(*members))
    deleted = 0
    for start in range(0, len(pages), _DELETE_CHUNK):
        deleted += client.delete(*pages[start:start + _DELETE_CHUNK])
    return PurgeResult(deleted, tuple(sorted({path_of(page) for page in pages})))
