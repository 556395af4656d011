"""Queue and deliver transactional email through the outbox: one row per idempotency key."""
from __future__ import annotations

import datetime as dt
import hashlib

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template
from sqlalchemy import or_, select, update

from covet.audit.services import Actor, record
from covet.dbtypes import insert_if_absent, utcnow
from covet.extensions import db
from covet.jobs import enqueue
from covet.notifications.backends import OutgoingEmail, PermanentEmailError, TransientEmailError, backend_for
from covet.notifications.catalog import TEMPLATES
from covet.notifications.models import EmailOutbox
from covet.observability import get_logger

LEASE = dt.timedelta(seconds=120)  # longer than an SMTP conversation may take (timeouts are 10 s)
RETRY_PAUSE = dt.timedelta(seconds=20)  # shorter than the job's first retry interval
MAX_ATTEMPTS = 8
STALLED_AFTER = dt.timedelta(minutes=2)


class EmailRequestError(ValueError):
    """A programming or data error in the email request (unknown template, missing context)."""


def queue_email(template: str, to: str, context: dict, idempotency_key: str,
                order_id: int | None = None) -> EmailOutbox:
    """Record an email in the outbox and enqueue its delivery after commit; a repeated key is a no-op.

    `order_id` links the email to the order it is about (shown on the order's timeline)."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise EmailRequestError(f"unknown email template {template!r}")
    missing = [key for key in spec.required if key not in context]
    if missing:
        raise EmailRequestError(f"{template}: missing context {', '.join(missing)}")
    # One statement decides who records the email, even when two workers race on the same key.
    new_id = insert_if_absent(EmailOutbox, "idempotency_key", template=template, recipient=to.strip(),
                              context=context, idempotency_key=idempotency_key, status="pending", attempts=0,
                              created_at=utcnow(), order_id=order_id)
    row = db.session.scalar(select(EmailOutbox).where(EmailOutbox.idempotency_key == idempotency_key))
    if new_id is None:
        return row
    from covet.notifications.jobs import deliver_email

    enqueue(deliver_email, row.id)
    return row


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, html, text) for a template and its context."""
    spec = TEMPLATES[template]
    full = {**context, "public_url": current_app.config["PUBLIC_URL"]}
    # A subject is a header, not HTML: render it without autoescape ("Tote & Co", not "Tote &amp; Co").
    subject = current_app.jinja_env.from_string(
        "{% autoescape false %}" + spec.subject + "{% endautoescape %}").render(**full).strip()
    html = render_template(f"emails/{template}.html", subject=subject, **full)
    text = render_template(f"emails/{template}.txt", subject=subject, **full)
    return subject, html, text


def _absolute(url: str) -> str:
    return url if url.startswith("http") else current_app.config["PUBLIC_URL"] + url


def build_email(row: EmailOutbox) -> OutgoingEmail:
    subject, html, text = render_email(row.template, row.context)
    digest = hashlib.sha256(row.idempotency_key.encode()).hexdigest()[:32]
    # A stable Message-ID lets receiving servers drop a duplicate if a send is ever repeated.
    headers = {"Message-ID": f"<{digest}@covet.mail>"}
    if row.context.get("unsubscribe_url"):
        headers["List-Unsubscribe"] = f"<{_absolute(row.context['unsubscribe_url'])}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return OutgoingEmail(to=row.recipient, sender=current_app.config["EMAIL_FROM"], subject=subject, html=html,
                         text=text, idempotency_key=row.idempotency_key, headers=headers)


def _claim(outbox_id: int) -> EmailOutbox | None:
    """Mark the row as being sent by us; None if it is sent, failed, or another worker holds it."""
    now = utcnow()
    claimable = or_(EmailOutbox.status == "pending", EmailOutbox.status == "sending")
    row = db.session.scalar(
        update(EmailOutbox)
        .where(EmailOutbox.id == outbox_id, claimable,
               or_(EmailOutbox.locked_until.is_(None), EmailOutbox.locked_until < now))
        .values(status="sending", attempts=EmailOutbox.attempts + 1, locked_until=now + LEASE)
        .returning(EmailOutbox))
    db.session.commit()
    return row


def deliver(outbox_id: int) -> str:
    """Send one outbox email at most once; returns sent / failed / skipped, raises to be retried."""
    row = _claim(outbox_id)
    if row is None:
        return "skipped"
    backend = backend_for(current_app.config)
    log = get_logger("covet.email")
    try:
        if not _valid_recipient(row.recipient):
            raise PermanentEmailError(f"invalid recipient address {row.recipient!r}")
        provider_id = backend.send(build_email(row))
    except PermanentEmailError as exc:
        _finish(row.id, status="failed", last_error=str(exc)[:2000], provider=backend.name)
        log.warning("email_failed", extra={"outbox_id": row.id, "template": row.template, "error": str(exc)})
        return "failed"
    except TransientEmailError as exc:
        final = row.attempts >= MAX_ATTEMPTS
        _finish(row.id, status="failed" if final else "pending", last_error=str(exc)[:2000],
                provider=backend.name, locked_until=None if final else utcnow() + RETRY_PAUSE)
        log.warning("email_retry", extra={"outbox_id": row.id, "attempts": row.attempts, "final": final})
        if final:
            return "failed"
        raise
    _finish(row.id, status="sent", provider=backend.name, provider_id=provider_id, sent_at=utcnow(),
            last_error=None)
    log.info("email_sent", extra={"outbox_id": row.id, "template": row.template, "provider": backend.name})
    return "sent"


def _valid_recipient(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False,
                       test_environment=current_app.config["COVET_ENV"] != "production")
    except EmailNotValidError:
        return False
    return True


def _finish(outbox_id: int, **values) -> None:
    values.setdefault("locked_until", None)
    db.session.execute(update(EmailOutbox).where(EmailOutbox.id == outbox_id).values(**values))
    db.session.commit()


def requeue_stalled(limit: int = 200) -> int:
    """Enqueue delivery again for emails whose worker died or whose job was lost; claims keep it once."""
    now = utcnow()
    ids = list(db.session.scalars(
        select(EmailOutbox.id)
        .where(EmailOutbox.status.in_(("pending", "sending")), EmailOutbox.created_at < now - STALLED_AFTER,
               or_(EmailOutbox.locked_until.is_(None), EmailOutbox.locked_until < now))
        .order_by(EmailOutbox.id).limit(limit)))
    from covet.notifications.jobs import deliver_email

    for outbox_id in ids:
        enqueue(deliver_email, outbox_id)
    db.session.commit()
    return len(ids)


def retry_failed(outbox_id: int, actor: Actor) -> bool:
    """Give a failed email another go (admin action)."""
    updated = db.session.execute(update(EmailOutbox).where(EmailOutbox.id == outbox_id,
                                                           EmailOutbox.status == "failed")
                                 .values(status="pending", locked_until=None, attempts=0)).rowcount
    if updated:
        from covet.notifications.jobs import deliver_email

        enqueue(deliver_email, outbox_id)
        record(actor, "email.retried", "email_outbox", outbox_id)
    db.session.commit()
    return bool(updated)
