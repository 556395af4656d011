"""The admin home page."""
from flask import Blueprint
from flask_login import current_user

from covet.dashboard import queries
from covet.web.htmx import render_page
from covet.web.policy import EVERYONE, allow

bp = Blueprint("dashboard", __name__, url_prefix="/admin")


@bp.get("/")
@allow(*EVERYONE)
def home():
    """Today at a glance; merchants see their own store only."""
    store_id = current_user.store_id if current_user.role == "merchant" else None
    currency, series = queries.revenue_by_day(store_id)
    peak = max((d.amount for d in series), default=0)
    return render_page(
        "dashboard/home.html",
        today=queries.today_summary(store_id),
        chart_currency=currency, chart=series, chart_peak=peak or 1,
        disputes=queries.disputes_due_soon(store_id),
        orders=queries.recent_orders(store_id),
        failing=queries.failing_work() if current_user.is_staff else None,
    )
