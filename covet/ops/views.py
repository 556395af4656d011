"""Health endpoints for load balancers and operators."""
from __future__ import annotations

import gc
import os
import sys

from flask import Blueprint, current_app, jsonify, request

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
    """Readiness: every dependency with status and latency; 503 if a required one is down."""
    app = current_app._get_current_object()
    results = [checks.check_database(app), checks.check_redis(app), checks.check_storage(app),
               checks.check_stripe(app), checks.check_queues(app)]
    failing = [r.name for r in results if r.required and r.status == "down"]
    body = {"status": "degraded" if failing else "ok", "checks": {r.name: r.as_dict() for r in results}}
    if failing:
        body["failing"] = failing
    if request.args.get("verbose", "").lower() in ("1", "true", "yes"):
        body["memory"] = memory_report()
    response = jsonify(body)
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response


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
