"""Absolute URLs that leave the site (Stripe return links, email links): built on PUBLIC_URL only.

`url_for(..., _external=True)` takes the host from the request's Host header, which a client chooses:
a forged one would send a seller back from Stripe, or a customer from an email, to someone else's site.
"""
from __future__ import annotations

from flask import current_app, url_for


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of an endpoint on PUBLIC_URL, whatever Host the request came with."""
    values.pop("_external", None)
    # url_for without a request context would want SERVER_NAME; a path is all we take from it.
    return current_app.config["PUBLIC_URL"] + url_for(endpoint, **values)

