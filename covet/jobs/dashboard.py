"""rq-dashboard for deeper queue inspection, mounted at /admin/rq: admins only, behind our sign-in."""
from __future__ import annotations

from flask import Flask, abort, request

from covet.extensions import csrf
from covet.web.policy import grant

# rq-dashboard's pages carry inline scripts and styles and compile underscore templates with eval;
# this looser policy applies under /admin/rq only.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                 "form-action 'self'; frame-ancestors 'none'")


def _guard_writes():
    """Its jQuery posts carry no CSRF token but do send X-Requested-With, which a cross-site form cannot."""
    if request.method != "GET" and request.headers.get("X-Requested-With") != "XMLHttpRequest":
        abort(400)
    if request.endpoint == "rq_dashboard.requeue_all" and request.method == "GET":
        abort(405)  # a GET that changes state would be forgeable with a link


def _relax_csp(response):
    response.headers["Content-Security-Policy"] = DASHBOARD_CSP
    return response


def mount_rq_dashboard(app: Flask) -> bool:
    """Mount rq-dashboard when Redis is configured."""
    if not app.config.get("REDIS_URL"):
        return False
    import rq_dashboard

    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", [app.config["REDIS_URL"]])  # it expects a list
    blueprint = rq_dashboard.blueprint
    if not getattr(blueprint, "_covet_guarded", False):  # the blueprint object is global to the process
        blueprint.before_request(_guard_writes)
        blueprint.after_request(_relax_csp)
        blueprint._covet_guarded = True
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint, url_prefix="/admin/rq")
    rq_dashboard.web.setup_rq_connection(app)  # its default connection for routes without an instance number
    grant("rq_dashboard.", ("admin",))
    return True
