"""Security headers on every response, including a strict CSP with no inline script or style."""
from __future__ import annotations

from flask import Flask, Response, current_app, g, request, session

# Files that are the same for everyone (and cached for a year): no reason to refetch them on every page.
SHARED_ASSETS = frozenset({"static", "media.media_file", "rq_dashboard.static"})


def content_security_policy(cfg: dict) -> str:
    img = ["'self'", "data:", "blob:"]
    connect = ["'self'"]
    if cfg.get("CLOUDFRONT_DOMAIN"):
        img.append(f"https://{cfg['CLOUDFRONT_DOMAIN']}")
    if cfg.get("AWS_S3_BUCKET"):
        s3 = f"https://{cfg['AWS_S3_BUCKET']}.s3.{cfg['AWS_REGION']}.amazonaws.com"
        img.append(s3)
        connect.append(s3)
    if cfg.get("AWS_ENDPOINT_URL"):
        img.append(cfg["AWS_ENDPOINT_URL"])
        connect.append(cfg["AWS_ENDPOINT_URL"])
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": img,
        "connect-src": connect,
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'", "https://checkout.stripe.com", "https://connect.stripe.com"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def set_security_headers(response: Response) -> Response:
    """after_request: CSP, framing, sniffing, referrer; HSTS in production; no-store when signed in."""
    cfg = current_app.config
    headers = response.headers
    headers.setdefault("Content-Security-Policy", cfg["COVET_CSP"])
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if cfg["COVET_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.endpoint not in SHARED_ASSETS and _signed_in():
        # Signed-in pages carry customers' names and addresses: no browser, proxy or CDN may keep a copy.
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response


def _signed_in() -> bool:
    """The user this request loaded is signed in, or the session is a signed-in one (no query: this runs on
    every response, a 503 from the health check included)."""
    user = g.get("_login_user")
    if user is not None:
        return bool(user.is_authenticated)
    return "_user_id" in session


def init_security(app: Flask) -> None:
    app.config["COVET_CSP"] = content_security_policy(app.config)
    app.after_request(set_security_headers)
