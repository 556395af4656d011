"""Configuration: embedded defaults, seed URL forms, one-line errors naming the variable."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from covet.config import ConfigError, database_settings, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_unset_means_embedded_defaults(tmp_path):
    cfg = load_config(str(tmp_path), {})
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'covet.db'}"
    assert cfg["RATELIMIT_STORAGE_URI"] == "memory://"
    assert cfg["REDIS_URL"] is None
    assert cfg["MEDIA_ROOT"] == str(tmp_path / "media")
    assert cfg["COVET_ENV"] == "development"
    assert cfg["SESSION_COOKIE_SECURE"] is False
    # a development secret is generated once and kept
    assert cfg["SECRET_KEY"] == load_config(str(tmp_path), {})["SECRET_KEY"]
    assert len(cfg["SECRET_KEY"]) >= 32


def test_seed_rds_url_is_honoured():
    url, options = database_settings(
        "postgresql://USER:PASS@database-1.example.ca-central-1.rds.amazonaws.com:5432/DBNAME"
        "?sslmode=require&connection_limit=5&pgbouncer=true")
    assert url.startswith("postgresql+psycopg://USER:PASS@database-1.example.ca-central-1.rds.amazonaws.com:5432/DBNAME?")
    assert "sslmode=require" in url
    assert "connection_limit" not in url and "pgbouncer" not in url
    assert options["pool_size"] == 5 and options["max_overflow"] == 0
    assert options["connect_args"]["prepare_threshold"] is None  # no server-side prepared statements


def test_supabase_postgres_scheme_and_schema():
    url, options = database_settings("postgres://u:p@db.x.supabase.co:5432/postgres?pgbouncer=true&schema=covet")
    assert url.startswith("postgresql+psycopg://u:p@db.x.supabase.co:5432/postgres")
    assert options["connect_args"] == {"prepare_threshold": None, "options": "-csearch_path=covet"}


def test_direct_database_url_used_for_migrations(tmp_path):
    cfg = load_config(str(tmp_path), {"DATABASE_URL": "postgres://u:p@pooler:6543/db?pgbouncer=true",
                                      "DIRECT_DATABASE_URL": "postgres://u:p@db:5432/db",
                                      "SECRET_KEY": "k" * 40})
    assert cfg["MIGRATIONS_DATABASE_URI"].startswith("postgresql+psycopg://u:p@db:5432/db")
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://u:p@pooler:6543/db")


@pytest.mark.parametrize("env, variable", [
    ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql://u@h:5432/db?connection_limit=lots"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql://u@h:5432/db?sslmode=sometimes"}, "DATABASE_URL"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    ({"AWS_S3_BUCKET": "my-bucket"}, "AWS_REGION"),
    ({"AWS_REGION": "canada"}, "AWS_REGION"),
    ({"STRIPE_SECRET_KEY": "pk_test_123"}, "STRIPE_SECRET_KEY"),
    ({"STRIPE_WEBHOOK_SECRET": "secret"}, "STRIPE_WEBHOOK_SECRET"),
    ({"STRIPE_CURRENCY": "dollars"}, "STRIPE_CURRENCY"),
    ({"EMAIL_FROM": "Covet"}, "EMAIL_FROM"),
    ({"SMTP_URL": "mail.example.com"}, "SMTP_URL"),
    ({"REVALIDATE_URL": "https://shop.example/api/revalidate"}, "REVALIDATE_SECRET"),
    ({"COVET_ENV": "staging"}, "COVET_ENV"),
    ({"COVET_ENV": "production"}, "SECRET_KEY"),
    ({"COVET_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
])
def test_wrong_value_names_the_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path), env)
    assert str(err.value).startswith(f"{variable}: ")
    assert "\n" not in str(err.value)


def test_production_cookies_are_secure(tmp_path):
    cfg = load_config(str(tmp_path), {"COVET_ENV": "production", "SECRET_KEY": "s" * 48})
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_HTTPONLY"]
    assert cfg["SESSION_COOKIE_SAMESITE"] == "Lax" and cfg["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert cfg["REMEMBER_COOKIE_SECURE"]


def _start(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_bad_value_at_startup_is_one_line_not_a_traceback(tmp_path):
    result = _start({"COVET_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "mysql://u@h/db",
                     "SECRET_KEY": "s" * 48})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("covet: configuration error: DATABASE_URL: ")


def test_unreachable_database_at_startup_is_one_line(tmp_path):
    result = _start({"COVET_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 48,
                     "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/covet?connect_timeout=2"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "DATABASE_URL: cannot connect" in result.stderr


def test_unreachable_redis_at_startup_is_one_line(tmp_path):
    result = _start({"COVET_INSTANCE_PATH": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "REDIS_URL: cannot connect" in result.stderr
