"""Template filters and the navigation each role sees."""
from __future__ import annotations

import datetime as dt

from flask import Flask, request
from flask_login import current_user

# (endpoint, label, roles): only screens that exist are listed.
NAVIGATION = (
    ("dashboard.home", "Dashboard", ("admin", "staff", "merchant")),
    ("stores.store_list", "Stores", ("admin", "staff", "merchant")),
    ("users.user_list", "Users", ("admin",)),
    ("jobs.jobs_index", "Jobs", ("admin",)),
    ("emails.email_index", "Emails", ("admin",)),
    ("accounts.password_change", "Password", ("admin", "staff", "merchant")),
)

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "chf": "CHF "}


def format_money(amount: int | None, currency: str) -> str:
    """Minor units to a display string: 129900, 'usd' → '$1,299.00'."""
    if amount is None:
        return "—"
    currency = (currency or "").lower()
    symbol = SYMBOLS.get(currency, currency.upper() + " ")
    if currency in ZERO_DECIMAL:
        return f"{'-' if amount < 0 else ''}{symbol}{abs(amount):,}"
    major, minor = divmod(abs(amount), 100)
    return f"{'-' if amount < 0 else ''}{symbol}{major:,}.{minor:02d}"


def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return value.astimezone(dt.UTC).strftime(fmt) if value else "—"


def navigation() -> list[tuple[str, str, bool]]:
    if not current_user.is_authenticated:
        return []
    return [(endpoint, label, request.endpoint == endpoint)
            for endpoint, label, roles in NAVIGATION if current_user.role in roles]


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["datetime"] = format_datetime
    app.context_processor(lambda: {"navigation": navigation})
