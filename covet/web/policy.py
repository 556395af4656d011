"""The one access policy every /admin route goes through.

Every admin view declares who may use it with @allow(...); a view that declares nothing is refused
(default deny). Records are fetched through get_scoped_or_404 so a merchant asking for another
store's record gets 404, not 403, and learns nothing about it.
"""
from __future__ import annotations

from functools import wraps

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from covet.accounts.models import ROLES
from covet.extensions import db

STAFF = ("admin", "staff")
EVERYONE = ROLES
PUBLIC_ADMIN_ENDPOINTS = {"accounts.login", "accounts.login_code"}
# Roles for admin views we did not write (mounted third-party blueprints), by endpoint prefix.
_GRANTS: dict[str, frozenset] = {}


def grant(endpoint_prefix: str, roles: tuple[str, ...]) -> None:
    """Declare the roles for every endpoint of a mounted blueprint we cannot decorate."""
    _GRANTS[endpoint_prefix] = frozenset(roles)


def allow(*roles: str):
    """Declare the roles that may use an admin view."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view):
        view.allowed_roles = frozenset(roles)

        @wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(roles)
        return wrapper

    return decorate


def roles_for(endpoint: str | None) -> frozenset | None:
    """The roles allowed on an endpoint, or None when it declares none (refused)."""
    view = current_app.view_functions.get(endpoint or "")
    roles = getattr(view, "allowed_roles", None)
    if roles is None:
        roles = next((r for prefix, r in _GRANTS.items() if (endpoint or "").startswith(prefix)), None)
    return roles


def enforce_admin_policy():
    """before_request: sign-in and role checks for everything under /admin."""
    if not request.path.startswith("/admin") or request.endpoint in PUBLIC_ADMIN_ENDPOINTS:
        return None
    if request.endpoint is None:  # 404/405 handled by routing
        return None
    if not current_user.is_authenticated:
        if request.headers.get("HX-Request") == "true":
            abort(401)
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    roles = roles_for(request.endpoint)
    if roles is None:
        current_app.logger.error("admin view %s declares no roles; refused", request.endpoint)
        abort(403)
    if current_user.role not in roles:
        abort(403)
    return None


def store_scope(stmt, store_column):
    """Limit a select to the current merchant's store (`store_column`, e.g. Product.store_id)."""
    if current_user.role == "merchant":
        return stmt.where(store_column == current_user.store_id)
    return stmt


def get_scoped_or_404(model, record_id: int, store_column: str = "store_id"):
    """Fetch a record the current user may see, or 404 (never 403: no hint it exists)."""
    record = db.session.get(model, record_id)
    if record is None:
        abort(404)
    if current_user.role == "merchant" and getattr(record, store_column) != current_user.store_id:
        abort(404)
    return record


def init_policy(app: Flask) -> None:
    app.before_request(enforce_admin_policy)
