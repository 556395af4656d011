"""The admin home page."""
from flask import Blueprint
from flask_login import current_user

from covet.dashboard import queries
from covet.web.htmx import is_fragment_request, render_page
from covet.web.policy import EVERYONE, allow

bp = Blueprint("dashboard", __name__, url_prefix="/admin")
HOME = "dashboard/home.html"


def _cards(store_id: int | None) -> dict:
    """The figures of the top row: cheap enough to poll."""
    return {"today": queries.today_summary(store_id), "disputes_due": queries.disputes_due_count(store_id),
            "failing": queries.failing_work() if current_user.is_staff else None,
            "jobs_link": current_user.role == "admin", "count_cap": queries.COUNT_CAP}


@bp.get("/")
@allow(*EVERYONE)
def home():
    """Today at a glance; merchants see their own store only. htmx polls get the top cards alone."""
    store_id = current_user.store_id if current_user.role == "merchant" else None
    if is_fragment_request():
        return render_page(HOME, "today", **_cards(store_id))
    currency, series = queries.revenue_by_day(store_id)
    return render_page(HOME, chart_currency=currency, chart=series,
                       chart_peak=max((d.amount for d in series), default=0) or 1,
                       disputes=queries.disputes_due_soon(store_id), orders=queries.recent_orders(store_id),
                       **_cards(store_id))
