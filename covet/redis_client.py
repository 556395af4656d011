"""The process's Redis connection (None in embedded mode), with short timeouts."""
from __future__ import annotations

from flask import Flask, current_app


def get_redis(app: Flask | None = None):
    """A Redis client for REDIS_URL, created once per app; None when REDIS_URL is unset."""
    app = app or current_app._get_current_object()
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = app.extensions.get("covet_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
        app.extensions["covet_redis"] = client
    return client
