"""rq-dashboard for deeper queue inspection, mounted at /admin/rq: admins only, behind our sign-in."""
from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, abort, request

from covet.extensions import csrf
from covet.web.policy import grant

# rq-dashboard's pages end with one inline script (its code, rendered by the server with tojson) and
# compile underscore templates with eval; those templates put job data (descriptions, arguments) into
# innerHTML unescaped. So scripts run only from our origin or with the exact hash of the inline script
# the server rendered; no 'unsafe-inline': an <img onerror> or javascript: link carried in a job
# argument does not run. Styles stay inline (its markup uses style attributes). Under /admin/rq only.
DASHBOARD_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'{hashes}; "
                 "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                 "form-action 'self'; frame-ancestors 'none'")
# Only the server's own markup can open this exact tag: data in the page is autoescaped (no '<').
INLINE_SCRIPT = re.compile(rb'<script type="text/javascript">(.*?)</script>', re.DOTALL)


def dashboard_csp(html: bytes) -> str:
    """The dashboard's policy, allowing the inline scripts of this very page by their SHA-256."""
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
                     for body in INLINE_SCRIPT.findall(html))
    return DASHBOARD_CSP.format(hashes=hashes)


def _guard_writes():
    """Its jQuery posts carry no CSRF token but do send X-Requested-With, which a cross-site form cannot."""
    if request.method != "GET" and request.headers.get("X-Requested-With") != "XMLHttpRequest":
        abort(400)
    if request.endpoint == "rq_dashboard.requeue_all" and request.method == "GET":
        abort(405)  # a GET that changes state would be forgeable with a link


def _relax_csp(response: Response) -> Response:
    html = response.mimetype == "text/html" and not response.direct_passthrough and not response.is_streamed
    response.headers["Content-Security-Policy"] = dashboard_csp(response.get_data() if html else b"")
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
