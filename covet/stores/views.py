"""Stores: list and detail (merchants see only their own)."""
from flask import Blueprint
from sqlalchemy import func, select

from covet.extensions import db
from covet.orders.models import OrderLine
from covet.stores.models import Store
from covet.web.htmx import render_page
from covet.web.policy import EVERYONE, allow, get_scoped_or_404, store_scope

bp = Blueprint("stores", __name__, url_prefix="/admin/stores")


@bp.get("/")
@allow(*EVERYONE)
def store_list():
    """Every store for staff; a merchant's own store."""
    stores = db.session.scalars(store_scope(select(Store), Store.id).order_by(Store.name)).all()
    return render_page("stores/list.html", stores=stores)


@bp.get("/<int:store_id>")
@allow(*EVERYONE)
def store_detail(store_id: int):
    """One store: Connect status and figures."""
    store = get_scoped_or_404(Store, store_id, store_column="id")
    line_count = db.session.scalar(select(func.count()).select_from(OrderLine).where(OrderLine.store_id == store.id))
    return render_page("stores/detail.html", store=store, line_count=line_count)
