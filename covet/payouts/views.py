"""Payouts: a merchant sees their store's, staff and admins every store's (with a store filter)."""
from flask import Blueprint, request
from flask_login import current_user
from sqlalchemy import select

from covet.disputes.liability_queries import store_liability
from covet.extensions import db
from covet.payouts import queries
from covet.stores.models import Store
from covet.web.htmx import render_page
from covet.web.params import parse_id
from covet.web.policy import EVERYONE, allow, store_scope

bp = Blueprint("payouts", __name__, url_prefix="/admin/payouts")


def _filters() -> queries.PayoutFilters:
    merchant = current_user.role == "merchant"  # their store is the scope; no filter to pick another
    return queries.PayoutFilters(store_id=None if merchant else parse_id(request.args.get("store")),
                                 after=request.args.get("after", "")[:40])


def _stores() -> list[Store]:
    return list(db.session.scalars(store_scope(select(Store), Store.id).order_by(Store.name)))


@bp.get("/")
@allow(*EVERYONE)
def payout_list():
    """Page through payouts, newest arrival first (merchants: their own store)."""
    filters = _filters()
    page = queries.payout_page(filters, store_scope)
    statuses = {"paid": "badge-ok", "failed": "badge-bad", "canceled": "badge-bad"}
    return render_page("payouts/list.html", "payout_list", page=page, filters=filters, stores=_stores(),
                       status_badges=statuses, liability=store_liability(filters.store_id, store_scope))
