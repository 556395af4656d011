"""Fail fast, in one line, when a configured service cannot be reached at start-up."""
from __future__ import annotations

from flask import Flask

from covet.config import ConfigError
from covet.ops.checks import check_database, check_redis

# Which variable to blame when a probe fails.
_VARIABLE = {"database": "DATABASE_URL", "redis": "REDIS_URL"}


def check_services(app: Flask) -> None:
    """Probe the database and Redis; raise ConfigError naming the variable if either is unreachable."""
    with app.app_context():
        for check in (check_database, check_redis):
            result = check(app)
            if result.status == "down":
                raise ConfigError(f"{_VARIABLE[result.name]}: cannot connect ({result.detail})")
