"""The order queue: filters, search, keyset pages, live new orders, take next, bulk actions."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/admin/orders")
