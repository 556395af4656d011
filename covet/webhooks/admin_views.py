"""/admin/webhooks: the Stripe events we stored, their payload and error, and Replay."""
from __future__ import annotations

import json

from flask import Blueprint, abort, request, url_for
from jinja2_fragments.flask import render_block

from covet.extensions import db
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, render_page, toast
from covet.web.policy import allow
from covet.webhooks import queries, services
from covet.webhooks.models import EVENT_STATUSES, StripeEvent

bp = Blueprint("webhook_events", __name__, url_prefix="/admin/webhooks")
LIST, DETAIL = "webhooks/index.html", "webhooks/event.html"
BADGES = {"processed": "badge-ok", "failed": "badge-bad", "pending": "badge-warn"}


def _filters() -> queries.EventFilters:
    args = request.args
    return queries.EventFilters(type=args.get("type", "").strip()[:100],
                                status=args.get("status", "") if args.get("status") in EVENT_STATUSES else "",
                                q=args.get("q", "").strip()[:255], after=args.get("after", "")[:40])


@bp.get("/")
@allow("admin")
def event_list():
    """Page through stored events, newest first, by type, status or Stripe event id."""
    filters = _filters()
    return render_page(LIST, "event_list", page=queries.event_page(filters), filters=filters,
                       counts=queries.status_counts(), types=queries.event_types(), statuses=EVENT_STATUSES,
                       badges=BADGES)


def _event_or_404(row_id: int) -> StripeEvent:
    event = db.session.get(StripeEvent, row_id)
    if event is None:
        abort(404)
    return event


@bp.get("/<int:row_id>")
@allow("admin")
def event_detail(row_id: int):
    """One event: its state, the last error, the payload; htmx polls the summary while it is pending."""
    event = _event_or_404(row_id)
    payload = json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False)
    return render_page(DETAIL, "event_summary", event=event, payload=payload, badges=BADGES)


@bp.post("/<int:row_id>/replay")
@allow("admin")
def event_replay(row_id: int):
    """Process an event again (handlers are idempotent); the row or the summary comes back for htmx."""
    if not services.replay(row_id, current_actor()):
        abort(404)
    toast("Event queued for processing again.")
    if not is_fragment_request():
        return redirect_after_post(url_for("webhook_events.event_detail", row_id=row_id))
    if request.form.get("view") == "row":
        body = render_block(LIST, "event_row", e=queries.event_row(row_id), badges=BADGES)
        return body + render_block(LIST, "status_counts", counts=queries.status_counts(), oob=True)
    return render_block(DETAIL, "event_summary", event=_event_or_404(row_id), badges=BADGES)
