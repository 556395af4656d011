"""Bulk actions on the queue: the ticked orders or everything matching the filter; CSV export as a job."""
from __future__ import annotations

import re
import secrets

from flask import Response, abort, make_response, render_template, request, url_for
from flask_login import current_user

from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.idempotency import checked_key
from covet.orders import queries
from covet.orders.views import bp, list_response, queue_context
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, toast
from covet.web.params import parse_id, parse_ids
from covet.web.policy import EVERYONE, allow

BULK_LIMIT = 5000
INLINE_LIMIT = 200  # more ticked orders than this are marked fulfilled by a job
ACTIONS = ("assign", "tag", "fulfil", "export")
EXPORT_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _selected_ids(filters: queries.QueueFilters) -> list[int]:
    """The orders to act on: the ticked ones (that the user may see), or every match of the filters."""
    actor = current_actor()
    if request.form.get("scope") == "all":
        return queries.matching_order_ids(filters, actor, limit=BULK_LIMIT)
    ticked = parse_ids(request.form.getlist("order_ids"), limit=BULK_LIMIT)
    return [row.id for row in queries.queue_rows(ticked, actor)]


def _summary(result, verb: str) -> tuple[str, str]:
    done, failed = len(result.done), result.failed
    message = f"{done} order{'s' if done != 1 else ''} {verb}."
    if failed:
        shown = "; ".join(list(failed.values())[:5])
        message += f" {len(failed)} not: {shown}{' …' if len(failed) > 5 else ''}"
    return message, "error" if failed and not done else ("info" if failed else "success")


def _run(action: str, ids: list[int], key: str):
    from covet.orders import bulk

    actor = current_actor()
    if action == "assign":
        value = request.form.get("assignee", "")
        assignee = current_user.id if value == "me" else parse_id(value)
        return _summary(bulk.bulk_assign(ids, assignee, actor), "assigned" if assignee else "unassigned")
    if action == "tag":
        return _summary(bulk.bulk_tag(ids, request.form.get("tag", ""), actor), "tagged")
    return _summary(bulk.bulk_fulfil(ids, actor, key), "marked fulfilled")


def _form_key() -> str:
    """The bulk form's one-time key (a page drawn before it had one gets a fresh key); never markup."""
    key = request.form.get("idempotency_key", "").strip()
    return checked_key(key) if key else secrets.token_hex(16)


def _refused(filters: queries.QueueFilters, message: str) -> Response:
    """422: the form cannot be carried out as sent; nothing was changed or enqueued."""
    if not is_fragment_request():
        return make_response(render_template("errors/error.html", status=422, message=message), 422)
    toast(message, "error")
    response = list_response(queue_context(filters, queries.queue_page(filters, current_actor()), fresh_counts=True))
    response.status_code = 422
    return response


def _start_job(fn, filters: queries.QueueFilters, key: str, ids: list[int] | None, message: str) -> Response:
    """Run a bulk job as this user and go to its progress bar."""
    from covet.jobs import enqueue
    from covet.jobs.progress import remember_owner

    # Job arguments are plain values: explicit ids travel as one comma-separated string.
    chosen = None if ids is None else ",".join(map(str, ids))
    job_id = enqueue(fn, current_user.id, filters.query_string(after=""), key, chosen)
    db.session.commit()
    remember_owner(job_id, current_user.id)
    toast(message, "info")
    return redirect_after_post(url_for("jobs.job_progress", job_id=job_id))


@bp.post("/bulk")
@allow(*EVERYONE)
def queue_bulk():
    """Assign, tag, mark fulfilled or export the ticked orders, or every order matching the filter."""
    filters = queries.filters_from_query(request.form.get("query", ""))
    action = request.form.get("action", "")
    if action not in ACTIONS or (action in ("assign", "tag") and not current_user.is_staff):
        abort(403 if action in ACTIONS else 400)
    try:
        key = _form_key() if action == "fulfil" else ""
    except ValidationError as exc:
        return _refused(filters, " ".join(exc.errors.values()))
    ids = _selected_ids(filters)
    everything = request.form.get("scope") == "all"
    if action == "export" and (ids or everything):
        from covet.orders.jobs import export_orders_csv

        return _start_job(export_orders_csv, filters, secrets.token_urlsafe(16), None if everything else ids,
                          "Export started: the file is ready when the bar is full.")
    if action == "fulfil" and (everything or len(ids) > INLINE_LIMIT):
        from covet.orders.jobs import bulk_fulfil_orders

        # Hundreds of shipments outlast a request (htmx gives up after 60 s): a job with a progress bar.
        return _start_job(bulk_fulfil_orders, filters, key, None if everything else ids,
                          "Marking the orders fulfilled: follow the bar.")
    if not ids:
        message, level = "Tick some orders first (or choose “all matching”).", "error"
    else:
        try:
            message, level = _run(action, ids, key)
        except (ValidationError, NotFoundError) as exc:
            db.session.rollback()
            message, level = "; ".join(getattr(exc, "errors", {"": str(exc)}).values()), "error"
    toast(message, level)
    back = url_for("orders.queue") + ("?" + filters.query_string() if filters.query_string() else "")
    if not is_fragment_request():
        return redirect_after_post(back)
    context = queue_context(filters, queries.queue_page(filters, current_actor()), fresh_counts=True)
    return list_response(context)


@bp.get("/exports/<token>.csv")
@allow(*EVERYONE)
def export_download(token: str):
    """Download an orders CSV this user exported."""
    from covet.media.storage import StorageError, get_storage
    from covet.orders.jobs import export_key

    if not EXPORT_TOKEN.fullmatch(token):  # ours are token_urlsafe(16); anything else names no file
        abort(404)
    try:
        data = get_storage().get(export_key(current_user.id, token))
    except (StorageError, FileNotFoundError, KeyError):
        abort(404)
    response = make_response(data)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="orders-{token[:8]}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
