"""The dispute view: the deadline-sorted list and one dispute beside its order.

Staff and admins see every dispute; a merchant those on orders holding their lines (read-only, except files and
notes). Lists answer htmx with the list fragment (tabs out of band), a plain GET with the whole page.
"""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort, make_response, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from covet.disputes import queries
from covet.disputes.models import DISPUTE_STATUSES, Dispute
from covet.disputes.reasons import REASON_LABELS
from covet.errors import NotFoundError
from covet.orders.access import store_scope
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, render_page
from covet.web.policy import EVERYONE, allow

bp = Blueprint("disputes", __name__, url_prefix="/admin/disputes")
LIST = "disputes/list.html"
DETAIL = "disputes/detail.html"


@bp.app_template_filter("countdown")
def countdown_filter(due):
    from covet.disputes.page import countdown

    return countdown(due)


@bp.app_template_filter("dispute_reason")
def reason_filter(code: str) -> str:
    from covet.disputes.reasons import reason_label

    return reason_label(code)


def list_context(filters: queries.DisputeFilters, page: queries.DisputePage) -> dict:
    actor = current_actor()
    return {"filters": filters, "page": page, "counts": queries.remembered_tab_counts(filters, actor),
            "tabs": queries.TABS,
            "count_cap": queries.COUNT_CAP, "is_staff": current_user.is_staff, "reasons": REASON_LABELS,
            "statuses": DISPUTE_STATUSES}


@bp.get("/")
@allow(*EVERYONE)
def dispute_list():
    """Disputes, soonest deadline first: tabs with capped counts, filters in the URL, keyset pages."""
    actor = current_actor()
    filters = queries.parse_filters(request.args)
    page = queries.dispute_page(filters, actor) if not filters.errors else queries.DisputePage([], None)
    context = list_context(filters, page)
    http_status = 422 if filters.errors else 200
    if not is_fragment_request():
        return render_page(LIST, http_status=http_status, stores=queries.store_options(actor),
                           assignees=queries.assignee_options() if current_user.is_staff else [], **context)
    body = render_block(LIST, "dispute_list", **context) + render_block(LIST, "dispute_tabs", **context, oob=True)
    response = make_response(body, http_status)
    query = filters.as_query()
    response.headers["HX-Push-Url"] = url_for("disputes.dispute_list", **query)
    return response


def detail_context(dispute: Dispute, **extra) -> dict:
    """What the detail page shows: the dispute, its evidence, its order's context and each store's liability."""
    from covet.disputes.page import evidence_view

    actor = current_actor()
    detail = None
    if dispute.order_id:
        from covet.orders.detail import load_detail

        try:
            detail = load_detail(actor, dispute.order_id)
        except NotFoundError:
            detail = None
    context = {"dispute": dispute, "detail": detail, "order": detail.order if detail else None,
               "evidence": evidence_view(dispute, extra.pop("form", None), extra.get("errors"),
                                         store_scope(actor)),
               "is_staff": current_user.is_staff,
               "new_key": lambda: secrets.token_hex(16), "errors": {}, "conflict": None,
               "assignees": queries.assignee_options() if current_user.is_staff else [],
               "liability": _liability(dispute), "liability_fee": dispute.fee_amount,
               "liability_currency": dispute.currency,
               "fragment": is_fragment_request()}
    return context | extra


def _liability(dispute: Dispute) -> list:
    """Each store's share of the disputed money and what was reversed, given back or owed (a merchant: theirs)."""
    from covet.disputes.liability_queries import liability_rows

    return liability_rows(dispute, store_id=store_scope(current_actor()))


def render_detail(dispute_id: int, http_status: int = 200, **extra) -> Response:
    from covet.disputes.actions import dispute_for

    try:
        dispute = dispute_for(current_actor(), dispute_id)
    except NotFoundError:
        abort(404)
    return render_page(DETAIL, "dispute_detail", http_status=http_status, **detail_context(dispute, **extra))


@bp.get("/<int:dispute_id>")
@allow(*EVERYONE)
def dispute_detail(dispute_id: int):
    """One dispute: what the bank says, the evidence we answer with, and the order beside it."""
    return render_detail(dispute_id)


@bp.get("/<int:dispute_id>/files/<int:file_id>")
@allow(*EVERYONE)
def dispute_file(dispute_id: int, file_id: int):
    """Download one evidence file (kept privately: only people who may see the dispute get it)."""
    from covet.disputes.actions import dispute_for
    from covet.disputes.files import read_file
    from covet.disputes.models import DisputeFile
    from covet.extensions import db

    try:
        dispute = dispute_for(current_actor(), dispute_id)
    except NotFoundError:
        abort(404)
    stored = db.session.get(DisputeFile, file_id)
    scope = store_scope(current_actor())
    if stored is None or stored.dispute_id != dispute.id or (scope is not None and stored.store_id != scope):
        abort(404)
    response = make_response(read_file(stored))
    response.headers["Content-Type"] = stored.content_type
    safe_name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stored.filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
