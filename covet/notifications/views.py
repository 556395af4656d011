"""/admin/emails: preview each template with demo data; the outbox with its failures."""
from __future__ import annotations

from flask import Blueprint, abort, make_response, url_for
from sqlalchemy import select

from covet.extensions import db
from covet.notifications import services
from covet.notifications.catalog import TEMPLATES
from covet.notifications.models import EMAIL_STATUSES, EmailOutbox
from covet.web.actor import current_actor
from covet.web.htmx import redirect_after_post, render_page, toast
from covet.web.policy import allow

bp = Blueprint("emails", __name__, url_prefix="/admin/emails")
# An email's HTML is shown in a sandboxed frame: inline styles (as mail needs) but never scripts.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'"


@bp.get("/")
@allow("admin")
def email_index():
    """Templates to preview and the latest outbox rows."""
    from flask import request

    status = request.args.get("status", "")
    stmt = select(EmailOutbox).order_by(EmailOutbox.id.desc()).limit(100)
    if status in EMAIL_STATUSES:
        stmt = stmt.where(EmailOutbox.status == status)
    rows = db.session.scalars(stmt).all()
    return render_page("notifications/index.html", "outbox", templates=TEMPLATES.values(), rows=rows,
                       status=status, statuses=EMAIL_STATUSES)


def _template_or_404(name: str):
    if name not in TEMPLATES:
        abort(404)
    return TEMPLATES[name]


@bp.get("/<name>/preview")
@allow("admin")
def email_preview(name: str):
    """One template rendered with demo data: subject, HTML in a sandboxed frame, plain text."""
    spec = _template_or_404(name)
    subject, _html, text = services.render_email(spec.name, spec.demo)
    return render_page("notifications/preview.html", spec=spec, subject=subject, text=text)


@bp.get("/<name>/preview.html")
@allow("admin")
def email_preview_html(name: str):
    """The HTML part alone, for the preview frame."""
    spec = _template_or_404(name)
    response = make_response(services.render_email(spec.name, spec.demo)[1])
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/<int:outbox_id>/retry")
@allow("admin")
def email_retry(outbox_id: int):
    """Send a failed email again."""
    if not services.retry_failed(outbox_id, current_actor()):
        abort(404)
    toast("Email queued again.")
    return redirect_after_post(url_for("emails.email_index"))
