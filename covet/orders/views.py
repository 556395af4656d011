"""The order queue: filters, search, keyset pages, live new orders, take next, presets."""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort, make_response, redirect, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.orders import count_cache, presets, queries
from covet.orders.filters import PAGE_SIZES, SORTS, VIEWS
from covet.orders.models import FULFILMENT_STATUSES, ORDER_STATES, PAYMENT_STATUSES
from covet.stores.models import Store
from covet.web.actor import current_actor
from covet.web.converters import MAX_ID
from covet.web.htmx import is_fragment_request, redirect_after_post, render_page, toast
from covet.web.policy import EVERYONE, STAFF, allow

bp = Blueprint("orders", __name__, url_prefix="/admin/orders")
QUEUE = "orders/queue.html"


def _stores() -> list[Store]:
    if current_user.role == "merchant":
        return []
    return list(db.session.scalars(select(Store).order_by(Store.name).limit(500)))


def assignee_choices() -> list:
    if not current_user.is_staff:
        return []
    return queries.assignee_options()


def queue_context(filters: queries.QueueFilters, page: queries.QueuePage | None = None,
                  fresh_counts: bool = False) -> dict:
    actor = current_actor()
    return {"filters": filters, "page": page, "counts": count_cache.tab_counts(actor, filters, fresh=fresh_counts),
            "views": VIEWS,
            "staff_only_views": queries.STAFF_ONLY_VIEWS, "count_cap": queries.COUNT_CAP,
            "sorts": SORTS, "states": ORDER_STATES, "payments": PAYMENT_STATUSES, "fulfilments": FULFILMENT_STATUSES,
            "page_sizes": PAGE_SIZES, "is_staff": current_user.is_staff, "live": _live(filters),
            "matching": _matching(filters, page, actor)}


def _matching(filters: queries.QueueFilters, page: queries.QueuePage | None, actor) -> int:
    """How many orders match: a page that holds them all has counted them already."""
    if page is None:
        return 0
    if not filters.after and page.next_after is None:
        return len(page.rows)
    return queries.matching_count(filters, actor)


def _live(filters: queries.QueueFilters) -> bool:
    """New orders are announced only where they would appear: the first page, newest first."""
    return filters.sort == "newest" and not filters.after


def _jump(order_id: int) -> Response:
    """An exact order number goes straight to the order."""
    location = url_for("orders.order_detail", order_id=order_id)
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


@bp.get("/")
@allow(*EVERYONE)
def queue():
    """The queue: tabs with counts, filters in the URL, one keyset page of orders."""
    filters = queries.parse_filters(request.args)
    actor = current_actor()
    if filters.q and not filters.after and (order_id := queries.order_by_number(filters.q, actor)):
        return _jump(order_id)
    page = queries.queue_page(filters, actor) if not filters.errors else queries.QueuePage([], None, 0)
    context = queue_context(filters, page)
    if not is_fragment_request():
        return render_page(QUEUE, http_status=422 if filters.errors else 200, stores=_stores(),
                           assignees=assignee_choices(), presets=presets.presets_for(current_user.id),
                           bulk_key=secrets.token_hex(16), **context)
    return list_response(context, 422 if filters.errors else 200)


def list_response(context: dict, http_status: int = 200) -> Response:
    """The list for htmx, with the tabs and what the page says about the filters (the query that Save preset and
    the bulk form send, the Clear link) out of band.

    The address bar gets the filters' canonical URL rather than the form's every empty field."""
    body = "".join([render_block(QUEUE, "order_list", **context),
                    render_block(QUEUE, "order_tabs", **context, oob=True),
                    render_block(QUEUE, "list_state", **context, oob=True)])
    response = make_response(body, http_status)
    query = context["filters"].query_string()
    response.headers["HX-Push-Url"] = url_for("orders.queue") + (f"?{query}" if query else "")
    return response


def _since() -> int:
    """The newest order id on screen; a value no order id can have counts as 0 (the first page)."""
    since = request.args.get("since", type=int) or 0
    return since if 0 <= since <= MAX_ID else 0


@bp.get("/new")
@allow(*EVERYONE)
def queue_new():
    """Poll: how many orders arrived since the newest one on screen (the list itself never moves)."""
    filters = queries.parse_filters(request.args)
    if not is_fragment_request():  # a poll, not a page: a browser that opens it gets the queue
        return redirect(url_for("orders.queue", **filters.as_query(after="")), code=303)
    since = _since()
    new = queries.new_since(filters, current_actor(), since) if not filters.errors else 0
    return render_page(QUEUE, "new_orders", filters=filters, since=since, new=new, new_cap=queries.NEW_CAP,
                       live=True)


@bp.get("/since")
@allow(*EVERYONE)
def queue_since():
    """The new orders, to insert above the list when the user asks; the bar and the counts catch up."""
    filters = queries.parse_filters(request.args)
    since = _since()
    if not is_fragment_request():
        return redirect(url_for("orders.queue", **filters.as_query(after="")), code=303)
    actor = current_actor()
    page = queries.rows_since(filters, actor, since)
    context = queue_context(filters, fresh_counts=True) | {
        "rows": page.rows, "since": page.newest_id, "new": 0, "oob": True, "new_cap": queries.NEW_CAP}
    body = (render_block(QUEUE, "inserted_rows", **context) + render_block(QUEUE, "new_orders", **context)
            + render_block(QUEUE, "order_tabs", **context))
    return make_response(body)


@bp.post("/take-next")
@allow(*STAFF)
def take_next():
    """Give me the oldest paid, open order nobody is working on — never the same one as a colleague."""
    from covet.orders.services import take_next as take

    order = take(current_actor())
    if order is None:
        toast("Nothing is waiting: every paid order is taken or shipped.", "info")
        if is_fragment_request():
            return make_response("", 204)  # stay where you are; the toast says why
        return redirect_after_post(queue_return_url())
    toast(f"{order.number} is yours.")
    return redirect_after_post(url_for("orders.order_detail", order_id=order.id))


def queue_return_url() -> str:
    """Where a plain queue form goes back to: its `next` when that is a local /admin/orders path."""
    target = request.form.get("next", "")
    if target.startswith("/admin/orders") and "//" not in target and "\\" not in target:
        return target
    return url_for("orders.queue")


@bp.post("/presets")
@allow(*EVERYONE)
def preset_save():
    """Save the current filters under a name."""
    query = request.form.get("query", "")
    try:
        preset = presets.save_preset(current_actor(), request.form.get("name", ""), query)
    except ValidationError as exc:
        db.session.rollback()
        toast(exc.errors["name"], "error")
        return redirect_after_post(url_for("orders.queue") + ("?" + query if query else ""))
    toast(f"Preset “{preset.name}” saved.")
    return redirect_after_post(url_for("orders.queue") + ("?" + preset.query if preset.query else ""))


@bp.post("/presets/<int:preset_id>/delete")
@allow(*EVERYONE)
def preset_delete(preset_id: int):
    """Delete one of my presets."""
    try:
        presets.delete_preset(current_actor(), preset_id)
    except NotFoundError:
        abort(404)
    toast("Preset deleted.")
    return redirect_after_post(url_for("orders.queue"))


def counts_oob() -> str:
    """Fresh tab counts as an out-of-band swap, for any response that changed an order."""
    filters = queries.QueueFilters()
    return render_block(QUEUE, "order_tabs", **queue_context(filters, fresh_counts=True), oob=True)


def row_response(order_id: int) -> Response:
    """The queue row of one order (after an inline action), with the counts out of band."""
    rows = queries.queue_rows([order_id], current_actor())
    if not rows:
        abort(404)
    context = queue_context(queries.QueueFilters(), fresh_counts=True)
    body = render_block(QUEUE, "order_row", row=rows[0], **context) + render_block(QUEUE, "order_tabs", **context,
                                                                                   oob=True)
    return make_response(body)
