"""Structured JSON logs with a request id on every line; Sentry when SENTRY_DSN is set."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar

from flask import Flask, Response, g, has_request_context, request

_request_context: ContextVar[dict | None] = ContextVar("covet_log_context", default=None)
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request context and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_request_context.get() or {})
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime


def get_logger(name: str = "covet") -> logging.Logger:
    """The request-scoped logger: every line it writes carries the request id, user and route."""
    return logging.getLogger(name)


def bind_log_context(**values) -> None:
    """Add fields to every log line for the rest of this request or job."""
    _request_context.set({**(_request_context.get() or {}), **values})


def clear_log_context() -> None:
    _request_context.set(None)


def configure_logging(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel("WARNING")  # our own access line replaces werkzeug's


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    clear_log_context()
    bind_log_context(request_id=g.request_id, method=request.method, path=request.path)


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    duration_ms = round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 2)
    response.headers["Server-Timing"] = f"app;dur={duration_ms}"  # what the server spent, for benches and DevTools
    user_id = _signed_in_user_id()
    bind_log_context(user_id=user_id, route=request.endpoint)
    get_logger("covet.request").info("request", extra={"status": response.status_code, "duration_ms": duration_ms})
    return response


def _signed_in_user_id() -> int | None:
    """The user the request already loaded, else the session's id: never a query (the database may be down)."""
    from flask import session

    user = g.get("_login_user")
    if user is not None:
        return user.id if user.is_authenticated else None
    raw = session.get("_user_id") if session else None
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def init_sentry(dsn: str | None, environment: str) -> bool:
    """Start Sentry only when a DSN is configured."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(dsn=dsn, environment=environment, integrations=[FlaskIntegration()],
                    traces_sample_rate=0.1, send_default_pii=False)
    return True


def init_observability(app: Flask) -> None:
    if not app.config.get("TESTING"):
        configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(lambda _exc: clear_log_context())  # nothing leaks into the next, unrelated line
    app.extensions["covet_sentry"] = init_sentry(app.config.get("SENTRY_DSN"), app.config["COVET_ENV"])
