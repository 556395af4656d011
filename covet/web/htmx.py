"""Hypermedia helpers: a block for htmx, the whole page otherwise; merged HX-Trigger events."""
from __future__ import annotations

import json

from flask import Response, flash, g, make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block


def is_fragment_request() -> bool:
    """True for an htmx request that swaps part of a page (not a boosted full page or a history restore)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-Request-Type") != "full"
            and request.headers.get("HX-History-Restore-Request") != "true")


def render_page(template: str, block: str | None = None, *, http_status: int = 200, **context) -> Response:
    """Render `block` of `template` for htmx, the whole page otherwise."""
    if block and is_fragment_request():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    return make_response(body, http_status)


def trigger(event: str, detail: dict | bool = True) -> None:
    """Queue an HX-Trigger event for this response; several calls are merged, never overwritten."""
    g.setdefault("hx_triggers", {})[event] = detail


def toast(message: str, level: str = "success") -> None:
    """Tell the user something happened: a toast for htmx, a flash message after a redirect."""
    if is_fragment_request():
        trigger("toast", {"message": message, "level": level})
    else:
        flash(message, level)


def redirect_after_post(location: str) -> Response:
    """Post/redirect/get: 303 for a plain form, HX-Redirect for htmx.

    A toast queued for this response would die with the page being left, so it becomes a flash
    message shown on the page we go to.
    """
    pending = g.get("hx_triggers", {}).pop("toast", None)
    if pending:
        flash(pending["message"], pending["level"])
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 204)
        # A browser treats "same page + #anchor" as a scroll, not a load: htmx users get the page itself.
        response.headers["HX-Redirect"] = location.split("#", 1)[0]
        return response
    return redirect(location, code=303)


def apply_htmx_headers(response: Response) -> Response:
    """after_request: Vary on HX-Request and merge queued triggers into HX-Trigger."""
    response.vary.add("HX-Request")
    queued = g.pop("hx_triggers", None)
    if queued:
        existing = response.headers.get("HX-Trigger")
        merged = {}
        if existing:
            try:
                merged = json.loads(existing)
            except ValueError:
                merged = {name.strip(): True for name in existing.split(",") if name.strip()}
        merged.update(queued)
        response.headers["HX-Trigger"] = json.dumps(merged)
    return response
