"""Shared pieces of the benchmarks: a free loopback port and a throwaway database."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.conftest import free_port  # noqa: F401 - re-exported for the benches


def make_database() -> tuple[str, Callable[[], None]]:
    """A fresh database (PostgreSQL next to DATABASE_URL, else a SQLite file) and how to drop it."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        folder = tempfile.mkdtemp()
        return f"sqlite:///{Path(folder) / 'bench.db'}", lambda: shutil.rmtree(folder, ignore_errors=True)
    from tests.conftest import drop_postgres_database, make_postgres_database

    name = f"covet_bench_{uuid.uuid4().hex[:8]}"
    return make_postgres_database(base, name), lambda: drop_postgres_database(base, name)
