"""Template filters and the navigation each role sees."""
from __future__ import annotations

import datetime as dt

from flask import Flask, request
from flask_login import current_user

from covet.money import format_money, to_major

# (endpoint, label, roles): only screens that exist are listed.
NAVIGATION = (
    ("dashboard.home", "Dashboard", ("admin", "staff", "merchant")),
    ("orders.queue", "Orders", ("admin", "staff", "merchant")),
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


def navigation() -> list[tuple[str, str, bool]]:
    if not current_user.is_authenticated:
        return []
    return [(endpoint, label, request.endpoint == endpoint)
            for endpoint, label, roles in NAVIGATION if current_user.role in roles]


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["major"] = to_major
    app.jinja_env.filters["datetime"] = format_datetime
    app.context_processor(lambda: {"navigation": navigation})
