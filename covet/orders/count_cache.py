"""Tab counts, remembered for a few seconds between list requests (paging, filtering, polling).

The counts are cheap (capped index reads, one statement) but a busy queue asks for them on every click;
a 10-second memory per (scope, user, store) takes them off the list's path. Every action that changes an
order asks for fresh counts and stores them, so the person who acted always sees their change at once.
Shared through Redis when configured (every worker sees the same numbers), else per process.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time

from redis.exceptions import RedisError

from covet.audit.services import Actor
from covet.orders import queries
from covet.orders.access import store_scope
from covet.redis_client import get_redis
from covet.storefront.cache import key as cache_key

TTL_SECONDS = 10
_local: dict[str, tuple[float, dict]] = {}
_lock = threading.Lock()


def _key(actor: Actor, store_id: int | None) -> str:
    # "mine" depends on the user; everything else on the store scope (a merchant's or the filter's).
    return cache_key(f"order-counts:{store_scope(actor) or 0}:{store_id or 0}:{actor.user_id or 0}")


def tab_counts(actor: Actor, filters: queries.QueueFilters, fresh: bool = False) -> dict[str, int]:
    """The tab counts for this actor and store filter: remembered ones unless `fresh`."""
    key = _key(actor, filters.store_id)
    if not fresh and (remembered := _recall(key)) is not None:
        return remembered
    counts = queries.tab_counts(actor, filters)
    _remember(key, counts)
    return counts


def _recall(key: str) -> dict | None:
    connection = get_redis()
    if connection is not None:
        try:
            raw = connection.get(key)
        except RedisError:  # a cache that is down is a cache miss, never an error page
            return None
        return json.loads(raw) if raw else None
    with _lock:
        entry = _local.get(key)
    return entry[1] if entry and entry[0] > time.monotonic() else None


def _remember(key: str, counts: dict) -> None:
    connection = get_redis()
    if connection is not None:
        with contextlib.suppress(RedisError):  # not remembered: the next request counts again
            connection.set(key, json.dumps(counts), ex=TTL_SECONDS)
        return
    with _lock:
        if len(_local) > 10_000:
            _local.clear()
        _local[key] = (time.monotonic() + TTL_SECONDS, counts)


def remembered(key: str, compute) -> dict:
    """`compute()` at most once per TTL_SECONDS for this key (shared through Redis when configured)."""
    if (hit := _recall(key)) is not None:
        return hit
    value = compute()
    _remember(key, value)
    return value
