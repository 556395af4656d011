"""Configuration from the environment, with an embedded default for every service.

Unset means embedded (SQLite file, in-process jobs, local media, console email).
Set but malformed raises ConfigError with one line naming the variable.
"""
from __future__ import annotations

import os
import re
import secrets
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ENV_VARS = (
    "SECRET_KEY", "DATABASE_URL", "DIRECT_DATABASE_URL", "REDIS_URL", "AWS_REGION", "AWS_S3_BUCKET",
    "AWS_S3_SSE_KMS_KEY_ID", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
    "CLOUDFRONT_DOMAIN", "CLOUDFRONT_DISTRIBUTION_ID", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PUBLISHABLE_KEY", "STRIPE_CURRENCY", "RESEND_API_KEY", "EMAIL_FROM", "SMTP_URL",
    "SENTRY_DSN", "REVALIDATE_URL", "REVALIDATE_SECRET", "COVET_ENV", "LOG_LEVEL", "PROXY_COUNT",
    "PUBLIC_URL", "STRIPE_API_BASE", "TRUSTED_HOSTS", "HEALTH_TOKEN",
)

# Prisma-style options from the seeds that libpq does not understand; consumed here.
_PRISMA_OPTIONS = {"connection_limit", "pool_timeout", "pgbouncer", "schema"}


class ConfigError(Exception):
    """A configuration value is set but wrong; the message names the variable."""


def _need(cond: bool, var: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{var}: {message}")


def database_settings(url: str, var: str = "DATABASE_URL") -> tuple[str, dict]:
    """Turn a seed-style database URL into a SQLAlchemy URL and engine options."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme.startswith("sqlite"):
        _need(url.startswith("sqlite:///"), var, "use sqlite:///path/to/file.db")
        return url, {}
    _need(scheme in ("postgres", "postgresql", "postgresql+psycopg"), var,
          f"unsupported scheme '{scheme}'; use postgresql://user:pass@host:5432/db or sqlite:///file.db")
    _need(bool(parts.hostname) or "host=" in parts.query, var, "missing host")
    _need(len(parts.path) > 1, var, "missing database name (…:5432/DBNAME)")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    options: dict = {"pool_pre_ping": True}
    connect_args: dict = {}
    limit = query.pop("connection_limit", None)
    if limit is not None:
        _need(limit.isdigit() and int(limit) > 0, var, f"connection_limit must be a positive integer, got '{limit}'")
        options["pool_size"] = int(limit)
        options["max_overflow"] = 0
    pool_timeout = query.pop("pool_timeout", None)
    if pool_timeout is not None:
        _need(pool_timeout.isdigit(), var, f"pool_timeout must be whole seconds, got '{pool_timeout}'")
        options["pool_timeout"] = int(pool_timeout)
    pgbouncer = query.pop("pgbouncer", "false").lower()
    _need(pgbouncer in ("true", "false", "1", "0"), var, f"pgbouncer must be true or false, got '{pgbouncer}'")
    if pgbouncer in ("true", "1"):
        # PgBouncer in transaction mode cannot keep server-side prepared statements.
        connect_args["prepare_threshold"] = None
    schema = query.pop("schema", None)
    if schema:
        _need(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema) is not None, var, "schema must be an identifier")
        connect_args["options"] = f"-csearch_path={schema}"
    sslmode = query.get("sslmode")
    if sslmode is not None:
        allowed = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
        _need(sslmode in allowed, var, f"sslmode must be one of {', '.join(sorted(allowed))}")
    query.setdefault("connect_timeout", "5")
    if connect_args:
        options["connect_args"] = connect_args
    sa_url = urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, urlencode(query), ""))
    return sa_url, options


def _check_formats(env: dict) -> None:
    redis_url = env.get("REDIS_URL")
    if redis_url:
        _need(urlsplit(redis_url).scheme in ("redis", "rediss", "unix"), "REDIS_URL",
              "use redis://host:6379/0 or rediss://… (TLS)")
    region = env.get("AWS_REGION")
    if region:
        _need(re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", region) is not None, "AWS_REGION",
              f"'{region}' is not an AWS region (e.g. ca-central-1)")
    if env.get("AWS_S3_BUCKET"):
        _need(re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", env["AWS_S3_BUCKET"]) is not None,
              "AWS_S3_BUCKET", "not a valid bucket name")
        _need(bool(region), "AWS_REGION", "required when AWS_S3_BUCKET is set")
    _need(not env.get("AWS_S3_SSE_KMS_KEY_ID") or bool(env.get("AWS_S3_BUCKET")), "AWS_S3_SSE_KMS_KEY_ID",
          "set AWS_S3_BUCKET too (the key encrypts that bucket's uploads)")
    for var in ("AWS_ENDPOINT_URL", "REVALIDATE_URL", "PUBLIC_URL", "STRIPE_API_BASE"):
        if env.get(var):
            _need(urlsplit(env[var]).scheme in ("http", "https") and bool(urlsplit(env[var]).netloc), var,
                  "must be an http(s) URL")
    _need(not env.get("REVALIDATE_URL") or bool(env.get("REVALIDATE_SECRET")), "REVALIDATE_SECRET",
          "required when REVALIDATE_URL is set")
    if env.get("CLOUDFRONT_DOMAIN"):
        _need(re.fullmatch(r"[A-Za-z0-9.\-]+", env["CLOUDFRONT_DOMAIN"]) is not None, "CLOUDFRONT_DOMAIN",
              "a host name only, e.g. d111111abcdef8.cloudfront.net")
    prefixes = {"STRIPE_SECRET_KEY": ("sk_", "rk_"), "STRIPE_WEBHOOK_SECRET": ("whsec_",),
                "STRIPE_PUBLISHABLE_KEY": ("pk_",), "RESEND_API_KEY": ("re_",)}
    for var, allowed in prefixes.items():
        if env.get(var):
            _need(env[var].startswith(allowed), var, f"should start with {' or '.join(allowed)}")
    if env.get("STRIPE_CURRENCY"):
        _need(re.fullmatch(r"[A-Za-z]{3}", env["STRIPE_CURRENCY"]) is not None, "STRIPE_CURRENCY",
              "an ISO 4217 code such as usd or eur")
    if env.get("EMAIL_FROM"):
        _need("@" in parseaddr(env["EMAIL_FROM"])[1], "EMAIL_FROM", 'use "Covet <noreply@covet.app>"')
    if env.get("SMTP_URL"):
        _need(urlsplit(env["SMTP_URL"]).scheme in ("smtp", "smtps") and urlsplit(env["SMTP_URL"]).hostname,
              "SMTP_URL", "use smtp://user:pass@host:587 (STARTTLS) or smtps://…:465")
    if env.get("PROXY_COUNT"):
        _need(env["PROXY_COUNT"].isdigit(), "PROXY_COUNT", "number of trusted reverse proxies, e.g. 1")
    if env.get("SENTRY_DSN"):
        _need(urlsplit(env["SENTRY_DSN"]).scheme in ("http", "https"), "SENTRY_DSN", "must be a Sentry DSN URL")
    _check_trusted_hosts(env)
    if env.get("HEALTH_TOKEN"):
        _need(len(env["HEALTH_TOKEN"]) >= 24, "HEALTH_TOKEN", "use at least 24 random characters")


def trusted_hosts(value: str | None) -> list[str] | None:
    """TRUSTED_HOSTS "covet.app, .covet.app" → ["covet.app", ".covet.app"]; unset → None (any host)."""
    hosts = [host.strip().lower() for host in (value or "").split(",") if host.strip()]
    return hosts or None


def _check_trusted_hosts(env: dict) -> None:
    hosts = trusted_hosts(env.get("TRUSTED_HOSTS"))
    if hosts is None:
        return
    for host in hosts:
        _need(re.fullmatch(r"\.?[a-z0-9]([a-z0-9.\-]*[a-z0-9])?(:\d{1,5})?|\[[0-9a-f:.]+\](:\d{1,5})?", host)
              is not None, "TRUSTED_HOSTS", f"'{host}' is not a host name (comma-separated, e.g. covet.app,.covet.app)")
    public = urlsplit(env.get("PUBLIC_URL", "http://127.0.0.1:5000")).hostname or ""
    from werkzeug.sansio.utils import host_is_trusted

    _need(host_is_trusted(public, hosts), "TRUSTED_HOSTS",
          f"add PUBLIC_URL's host '{public}' (links from Stripe and emails come back to it)")


def _secret_key(env: dict, covet_env: str, instance_path: Path) -> str:
    key = env.get("SECRET_KEY")
    if key:
        _need(covet_env != "production" or len(key) >= 32, "SECRET_KEY", "use at least 32 random characters")
        return key
    _need(covet_env != "production", "SECRET_KEY", "required in production (python -c 'import secrets; "
          "print(secrets.token_urlsafe(48))')")
    # Development: a random key kept in instance/ so sessions survive restarts.
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: str, environ: dict | None = None) -> dict:
    """Build the Flask config mapping from the environment."""
    env = {k: v.strip() for k, v in (os.environ if environ is None else environ).items()
           if k in ENV_VARS and v and v.strip()}
    db_url = env.get("DATABASE_URL")
    covet_env = env.get("COVET_ENV", "production" if db_url else "development")
    _need(covet_env in ("development", "production", "testing"), "COVET_ENV",
          "must be development, production or testing")
    instance = Path(instance_path)
    _check_formats(env)
    if db_url:
        sa_url, engine_options = database_settings(db_url)
    else:
        instance.mkdir(parents=True, exist_ok=True)
        sa_url, engine_options = f"sqlite:///{instance / 'covet.db'}", {}
    migrate_url = database_settings(env["DIRECT_DATABASE_URL"], "DIRECT_DATABASE_URL")[0] \
        if env.get("DIRECT_DATABASE_URL") else sa_url
    secure = covet_env == "production"
    cfg = {
        "COVET_ENV": covet_env,
        "SECRET_KEY": _secret_key(env, covet_env, instance),
        "SQLALCHEMY_DATABASE_URI": sa_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "MIGRATIONS_DATABASE_URI": migrate_url,
        "REDIS_URL": env.get("REDIS_URL"),
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        "RATELIMIT_KEY_PREFIX": "covet",
        # Redis down: limits are counted in this process's memory (Flask-Limiter logs the switch, checks
        # Redis again and moves back); a rate limit never turns a request into a 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        "MEDIA_ROOT": str(instance / "media"),
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "__Host-covet" if secure else "covet_session",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "ARGON2_TIME_COST": 3, "ARGON2_MEMORY_COST": 65536, "ARGON2_PARALLELISM": 4,
        "LOGIN_MAX_FAILURES": 5, "LOGIN_LOCK_SECONDS": 15 * 60,
        "LOGIN_RATE_LIMIT_IP": "20 per minute", "LOGIN_RATE_LIMIT_ACCOUNT": "10 per minute",
        "STARTUP_CHECKS": covet_env != "testing",
        # Without REDIS_URL, periodic work (dispute reminders, stalled emails) runs on a thread of the web process.
        "EMBEDDED_SCHEDULER": covet_env != "testing",
        # "background": outbox rows go to RQ from a thread of the web process, batched, after the response's
        # commit (covet/jobs/handoff.py); "inline": in the request, after its commit (tests, to see them at once).
        "JOBS_HANDOFF": "inline" if covet_env == "testing" else "background",
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "STRIPE_CURRENCY": env.get("STRIPE_CURRENCY", "").lower() or None,
        "EMAIL_FROM": env.get("EMAIL_FROM", "Covet <noreply@covet.local>"),
        # Absolute links in emails (unsubscribe, admin links) start here.
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Flask ≥ 3.1 answers 400 to a request whose Host is not in the list (None: any host).
        "TRUSTED_HOSTS": trusted_hosts(env.get("TRUSTED_HOSTS")),
        "HEALTH_TOKEN": env.get("HEALTH_TOKEN"),
    }
    for var in ENV_VARS:
        cfg.setdefault(var, env.get(var))
    return cfg


def describe_backends(cfg: dict) -> dict:
    """Which backend each service uses, for logs, the doctor and the health page."""
    return {
        "database": "postgresql" if cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "sqlite",
        "redis": "redis" if cfg.get("REDIS_URL") else "none (jobs in-process, limits in memory)",
        "storage": f"s3://{cfg['AWS_S3_BUCKET']}" if cfg.get("AWS_S3_BUCKET") else f"local:{cfg['MEDIA_ROOT']}",
        "email": "smtp" if cfg.get("SMTP_URL") else ("resend" if cfg.get("RESEND_API_KEY") else "console"),
        "stripe": "configured" if cfg.get("STRIPE_SECRET_KEY") else "disabled",
    }
