"""Error pages: a fragment-friendly page for people, JSON for the API, never a swapped 5xx."""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request, url_for
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from covet.observability import get_logger

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in to continue.",
    403: "You do not have access to this.",
    404: "We could not find that page.",
    405: "That action is not allowed here.",
    413: "That upload is too large.",
    422: "Some fields need attention.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. Nothing was changed.",
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))


def _error_response(status: int, message: str):
    if request_ctx.url_adapter is None:  # a Host outside TRUSTED_HOSTS: no URL (so no page) can be built
        return make_response(message, status, {"Content-Type": "text/plain; charset=utf-8"})
    if _wants_json():
        return make_response(jsonify(error=message, status=status), status)
    if status == 401 and request.headers.get("HX-Request") == "true":
        # htmx follows HX-Redirect; never swap a login page into a table cell.
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for("accounts.login", next=request.referrer or "/admin")
        return response
    return make_response(render_template("errors/error.html", status=status, message=message), status)


def handle_http_error(error: HTTPException):
    status = error.code or 500
    message = MESSAGES.get(status, error.description or "Error")
    if status == 413 and _wants_json():
        message = "Request body too large."
    return _error_response(status, message)


def handle_csrf_error(error: CSRFError):
    get_logger().warning("csrf_rejected: %s", error.description)
    return _error_response(400, "Your session expired or the form was stale. Reload the page and try again.")


DATABASE_DOWN = "The database is unavailable for a moment. Nothing was changed: try again in a few seconds."


def _unavailable(error: Exception) -> bool:
    """The database could not be reached or dropped the connection (not a bad query on a healthy one)."""
    if getattr(error, "connection_invalidated", False) or isinstance(error, InterfaceError):
        return True
    orig = getattr(error, "orig", None)
    if type(orig).__module__.startswith("psycopg"):
        import psycopg

        return isinstance(orig, psycopg.OperationalError)  # refused, shut down, terminated, serialization
    return "database is locked" in str(orig)  # SQLite busy; its "no such table" is a bug, a 500


def handle_database_unavailable(error: Exception):
    """PostgreSQL restarting or unreachable: a 503 the user can act on (the pool reconnects by itself:
    pool_pre_ping), not a 500."""
    from flask import current_app, g

    if not _unavailable(error):
        return handle_unexpected(error)
    get_logger().warning("database_unavailable", extra={"error": f"{type(error).__name__}: {error}"[:300]})
    _rollback()
    if g.get("_login_user") is None:  # the page must not ask the database who is signed in
        g._login_user = current_app.login_manager.anonymous_user()
    response = _error_response(503, DATABASE_DOWN)
    response.headers["Retry-After"] = "5"
    return response


def handle_unexpected(error: Exception):
    get_logger().exception("unhandled_error")
    _rollback()  # a failed statement aborts the transaction: the error page's own queries (current_user) would fail
    return _error_response(500, MESSAGES[500])


def _rollback() -> None:
    from covet.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection itself may be gone; the page must still render
        get_logger().warning("rollback_failed_in_error_handler")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
