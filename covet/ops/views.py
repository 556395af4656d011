"""Health endpoints for load balancers and operators."""
from __future__ import annotations

import gc
import hmac
import os
import sys

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from covet.extensions import limiter
from covet.ops import checks

bp = Blueprint("ops", __name__, url_prefix="/api")


@bp.get("/health")
@limiter.limit("600 per minute")
def health():
    """Liveness: the process answers."""
    return jsonify(status="ok")


@bp.get("/health/detailed")
@limiter.limit("60 per minute")
def health_detailed():
    """Readiness: every dependency's status, 503 if a required one is down; details for an admin or the token."""
    app = current_app._get_current_object()
    results = [checks.check_database(app), checks.check_redis(app), checks.check_storage(app),
               checks.check_stripe(app), checks.check_queues(app)]
    failing = [r.name for r in results if r.required and r.status == "down"]
    body = {"status": "degraded" if failing else "ok", "checks": {r.name: {"status": r.status} for r in results}}
    if may_see_details():  # latency, paths, queue depths, Stripe mode, error messages: not for everyone
        body["checks"] = {r.name: r.as_dict() for r in results}
        if failing:
            body["failing"] = failing
        if request.args.get("verbose", "").lower() in ("1", "true", "yes"):
            body["memory"] = memory_report()
    response = jsonify(body)
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def may_see_details() -> bool:
    """HEALTH_TOKEN as `Authorization: Bearer <token>` or `?token=<token>`, or a signed-in admin."""
    expected = current_app.config.get("HEALTH_TOKEN")
    if expected:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else request.args.get("token", "")
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
    return bool(current_user.is_authenticated and current_user.role == "admin")


def memory_report() -> dict:
    """Process RSS and Python heap figures."""
    import psutil

    info = psutil.Process(os.getpid()).memory_info()
    return {
        "rss_bytes": info.rss,
        "vms_bytes": info.vms,
        "python_allocated_blocks": sys.getallocatedblocks(),
        "gc_objects": len(gc.get_objects()),
        "gc_counts": list(gc.get_count()),
    }
