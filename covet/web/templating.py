"""Template filters and the navigation each role sees."""
from __future__ import annotations

import datetime as dt
import importlib

from flask import Flask, request
from flask_login import current_user

from covet.money import format_money, to_major

# (endpoint, label, roles): only screens that exist are listed.
NAVIGATION = (
    ("dashboard.home", "Dashboard", ("admin", "staff", "merchant")),
    ("orders.queue", "Orders", ("admin", "staff", "merchant")),
    ("disputes.dispute_list", "Disputes", ("admin", "staff", "merchant")),
    ("catalog.product_list", "Products", ("admin", "staff", "merchant")),
    ("stores.store_list", "Stores", ("admin", "staff", "merchant")),
    ("payouts.payout_list", "Payouts", ("admin", "staff", "merchant")),
    ("users.user_list", "Users", ("admin",)),
    ("jobs.jobs_index", "Jobs", ("admin",)),
    ("emails.email_index", "Emails", ("admin",)),
    ("webhook_events.event_list", "Webhooks", ("admin",)),
    ("accounts.password_change", "Password", ("admin", "staff", "merchant")),
)

def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return value.astimezone(dt.UTC).strftime(fmt) if value else "—"


# Entries that show a figure beside their label: what waits for this user (a capped count; 0 shows nothing).
NAV_COUNTS = {"disputes.dispute_list": "covet.disputes.queries:nav_count"}


def navigation() -> list[tuple[str, str, bool, int]]:
    """(endpoint, label, active, count) for each screen this user may open."""
    if not current_user.is_authenticated:
        return []
    entries = []
    for endpoint, label, roles in NAVIGATION:
        if current_user.role not in roles:
            continue
        active = request.endpoint == endpoint or request.blueprint == endpoint.split(".")[0]
        entries.append((endpoint, label, active, _count(endpoint)))
    return entries


def _count(endpoint: str) -> int:
    target = NAV_COUNTS.get(endpoint)
    if target is None:
        return 0
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)()


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["major"] = to_major
    app.jinja_env.filters["datetime"] = format_datetime
    app.context_processor(lambda: {"navigation": navigation})
