"""What people do on a dispute: prepare evidence, save it as a draft (staged on Stripe), submit it, accept the
dispute, assign it, and — for the stores in the order — add files and notes.

Every staff action on Stripe carries three guards:
- the dispute's `version` the form was drawn from: a colleague's save in between raises ConflictError;
- the form's one-time key, stored as a DisputeAction row (unique): a double-click or a retried POST finds the
  first one's row and makes no second Stripe call;
- an idempotency key on the Stripe POST derived from that form key, so a retry after a timeout is one call too.
Each leaves an audit entry on the order (it shows in the order's timeline) and commits, or writes nothing.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from covet.audit.services import Actor, record
from covet.dbtypes import utcnow
from covet.disputes import files as evidence_files
from covet.disputes.limits import check_fields
from covet.disputes.models import Dispute, DisputeAction, DisputeFile, DisputeNote
from covet.disputes.reasons import EVIDENCE_FIELDS, FILE_FIELDS
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.idempotency import checked_key
from covet.orders.access import is_staff, require_staff, store_scope
from covet.orders.models import OrderLine
from covet.payments import gateway

NOTE_LIMIT = 5000
ACCEPT_REASON_LIMIT = 500
CLOSED_MESSAGE = "This dispute can no longer be changed: evidence was submitted, the dispute accepted or closed, " \
                 "or the deadline passed."


def dispute_for(actor: Actor, dispute_id: int, lock: bool = False) -> Dispute:
    """The dispute if `actor` may see it (a merchant: on an order holding their lines), else NotFoundError."""
    stmt = select(Dispute).where(Dispute.id == dispute_id)
    store_id = store_scope(actor)
    if store_id is not None:
        stmt = stmt.where(Dispute.order_id.in_(select(OrderLine.order_id).where(OrderLine.store_id == store_id)))
    if lock:
        stmt = stmt.with_for_update(of=Dispute)
    dispute = db.session.scalar(stmt)
    if dispute is None:
        raise NotFoundError(f"dispute {dispute_id}")
    return dispute


def _audit(actor: Actor, dispute: Dispute, action: str, after: dict, store_id: int | None = None) -> None:
    entity, entity_id = ("order", dispute.order_id) if dispute.order_id else ("dispute", dispute.id)
    record(actor, f"order.{action}" if dispute.order_id else f"dispute.{action}", entity, entity_id,
           after={"dispute": dispute.stripe_dispute_id, **after}, store_id=store_id)


def _check_version(dispute: Dispute, version: int | None) -> None:
    if version is not None and version != dispute.version:
        raise ConflictError({"fields": dict((dispute.evidence_draft or {}).get("fields", {}))}, dispute.version)


def _done_before(dispute: Dispute, key: str) -> bool:
    """This very form was carried out already (a double-click, a resent POST): nothing more to do."""
    return bool(key) and db.session.scalar(select(DisputeAction.id).where(
        DisputeAction.idempotency_key == key, DisputeAction.dispute_id == dispute.id,
        DisputeAction.status == "done")) is not None


def _claim(dispute: Dispute, key: str, kind: str, actor: Actor) -> DisputeAction | None:
    """Record the form's key; None if this form was already carried out (its first send did the work)."""
    if len(key or "") < 8:
        raise ValidationError({"dispute": "This form is out of date. Reload the page and try again."})
    checked_key(key, "dispute")
    done = db.session.scalar(select(DisputeAction).where(DisputeAction.idempotency_key == key))
    if done is not None:
        if done.dispute_id != dispute.id or done.kind != kind:
            raise ValidationError({"dispute": "This form is out of date. Reload the page and try again."})
        if done.status == "done":
            return None
        done.status, done.error = "pending", None  # a failed send tried again with the same key
        return done
    action = DisputeAction(dispute_id=dispute.id, idempotency_key=key, kind=kind, actor_id=actor.user_id)
    try:
        with db.session.begin_nested():
            db.session.add(action)
    except IntegrityError:
        return None  # the same form, sent twice at once: the other request does the work
    return action


def _clean_fields(fields: dict[str, str]) -> dict[str, str]:
    """Known text fields only, trimmed; an unknown or file field is a refusal at that field."""
    cleaned, errors = {}, {}
    for name, value in fields.items():
        if name not in EVIDENCE_FIELDS or name in FILE_FIELDS:
            errors[name] = "Not an evidence field Stripe accepts."
            continue
        cleaned[name] = (value or "").replace("\r\n", "\n").strip()
    errors |= check_fields({name: value for name, value in cleaned.items() if value})
    if errors:
        raise ValidationError(errors)
    return cleaned


def prepare(dispute_id: int, actor: Actor, version: int | None) -> list[str]:
    """Fill the evidence from Covet's records (fields staff edited are kept) and generate the PDFs.

    Returns what the packet still lacks (no tracking number, no policy…), for staff to see."""
    from covet.disputes import evidence

    require_staff(actor)
    dispute = dispute_for(actor, dispute_id, lock=True)
    _check_version(dispute, version)
    if not dispute.editable:
        raise ValidationError({"dispute": CLOSED_MESSAGE})
    packet = evidence.prepare(dispute, actor)
    _audit(actor, dispute, "dispute_evidence_prepared", {"fields": sorted(dispute.evidence_draft.get("fields", {}))})
    db.session.commit()
    return packet.warnings


def _evidence_params(dispute: Dispute) -> dict[str, str]:
    draft = dispute.evidence_draft or {}
    params = {f"evidence[{name}]": value for name, value in draft.get("fields", {}).items() if value}
    for field_name, file_id in (draft.get("files") or {}).items():
        stored = db.session.get(DisputeFile, file_id)
        if stored is None or stored.dispute_id != dispute.id:
            continue
        params[f"evidence[{field_name}]"] = evidence_files.push_to_stripe(stored)
    return params


def _apply_stripe(dispute: Dispute, obj: dict) -> None:
    details = obj.get("evidence_details") or {}
    dispute.has_evidence = bool(details.get("has_evidence", dispute.has_evidence))
    dispute.past_due = bool(details.get("past_due", dispute.past_due))
    dispute.submission_count = int(details.get("submission_count", dispute.submission_count) or 0)
    if obj.get("status"):
        dispute.status = obj["status"]


def save_evidence(dispute_id: int, actor: Actor, fields: dict[str, str], files: dict[str, int | None],
                  version: int | None, key: str, submit: bool) -> tuple[Dispute, str]:
    """Save the packet in Covet and on Stripe: staged (`submit=False`) or sent to the bank (`submit=True`).

    `files` maps a file field to one of the dispute's files (None clears it). Returns (dispute, outcome):
    "done"; "repeat" when this form had been carried out already; "local" for a draft kept in Covet only
    (Stripe not configured)."""
    require_staff(actor)
    dispute = dispute_for(actor, dispute_id, lock=True)
    if _done_before(dispute, key):
        return dispute, "repeat"
    _check_version(dispute, version)
    if not dispute.editable:
        raise ValidationError({"dispute": CLOSED_MESSAGE})
    cleaned = _clean_fields(fields)
    chosen = _clean_files(dispute, files)
    action = _claim(dispute, key, "submit" if submit else "draft", actor)
    if action is None:
        return dispute, "repeat"
    draft = dict(dispute.evidence_draft or {})
    draft["fields"] = {**draft.get("fields", {}), **cleaned}
    draft["files"] = {name: file_id for name, file_id in {**draft.get("files", {}), **chosen}.items() if file_id}
    dispute.evidence_draft = draft
    staged = _send(dispute, action, key, submit)
    action.status = "done"
    _audit(actor, dispute, "dispute_submitted" if submit else "dispute_evidence_saved",
           {"fields": sorted(name for name, value in draft["fields"].items() if value),
            "files": sorted(draft["files"]), "on_stripe": staged})
    db.session.commit()
    return dispute, "done" if staged else "local"


def _send(dispute: Dispute, action: DisputeAction, key: str, submit: bool) -> bool:
    """Stage or submit the packet on Stripe; False when Stripe is not configured and this is only a draft."""
    try:
        params = _evidence_params(dispute) | {"submit": "true" if submit else "false"}
        obj = gateway.call(f"/v1/disputes/{dispute.stripe_dispute_id}", "post", params,
                           idempotency_key=f"dispute-{action.kind}:{dispute.id}:{key}")
    except gateway.PaymentsDisabledError:
        if submit:
            raise
        return False  # embedded demo without Stripe: the draft is kept in Covet
    _apply_stripe(dispute, obj)
    dispute.staged_at = utcnow()
    if submit:
        dispute.submitted_at = dispute.staged_at
    return True


def _clean_files(dispute: Dispute, files: dict[str, int | None]) -> dict[str, int | None]:
    errors, chosen = {}, {}
    for name, file_id in files.items():
        if name not in FILE_FIELDS:
            errors[name] = "Not a file field Stripe accepts."
        elif file_id is not None and db.session.scalar(select(DisputeFile.id).where(
                DisputeFile.id == file_id, DisputeFile.dispute_id == dispute.id)) is None:
            errors[name] = "Choose one of this dispute's files."
        else:
            chosen[name] = file_id
    if errors:
        raise ValidationError(errors)
    return chosen


def accept(dispute_id: int, actor: Actor, reason: str, version: int | None, key: str) -> tuple[Dispute, bool]:
    """Close the dispute on Stripe: the amount and the fee are lost for good. The reason is audited."""
    require_staff(actor)
    dispute = dispute_for(actor, dispute_id, lock=True)
    if _done_before(dispute, key):
        return dispute, False
    _check_version(dispute, version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"accept_reason": "Say why the dispute is accepted; it is kept in the audit log."})
    if len(reason) > ACCEPT_REASON_LIMIT:
        raise ValidationError({"accept_reason": f"Keep the reason under {ACCEPT_REASON_LIMIT} characters."})
    if not dispute.needs_response or dispute.accepted_at or dispute.submitted_at:
        raise ValidationError({"dispute": CLOSED_MESSAGE})
    action = _claim(dispute, key, "accept", actor)
    if action is None:
        return dispute, False
    obj = gateway.call(f"/v1/disputes/{dispute.stripe_dispute_id}/close", "post", {},
                       idempotency_key=f"dispute-accept:{dispute.id}:{key}")
    _apply_stripe(dispute, obj)
    dispute.accepted_at, dispute.accept_reason, action.status = utcnow(), reason, "done"
    _audit(actor, dispute, "dispute_accepted", {"reason": reason, "status": dispute.status})
    from covet.disputes.liability import settle_dispute
    from covet.jobs.core import enqueue

    enqueue(settle_dispute, dispute.id)  # lost: the stores' shares are taken back (a job: Stripe calls, retries)
    db.session.commit()
    return dispute, True


def assign(dispute_id: int, actor: Actor, assignee_id: int | None) -> Dispute:
    from covet.accounts.models import User

    require_staff(actor)
    dispute = dispute_for(actor, dispute_id, lock=True)
    if assignee_id is not None:
        user = db.session.get(User, assignee_id)
        if user is None or not user.active or user.role not in ("admin", "staff"):
            raise ValidationError({"assignee": "Choose a member of staff."})
    before = dispute.assignee_id
    dispute.assignee_id = assignee_id
    _audit(actor, dispute, "dispute_assigned", {"assignee_id": assignee_id, "was": before})
    db.session.commit()
    return dispute


def add_file(dispute_id: int, actor: Actor, evidence_field: str, filename: str, data: bytes,
             note: str = "") -> DisputeFile:
    """A file for the evidence, from staff or a store in the order (kept privately until sent to Stripe)."""
    dispute = dispute_for(actor, dispute_id, lock=True)
    if not dispute.editable:
        raise ValidationError({"file": CLOSED_MESSAGE})
    if evidence_field not in FILE_FIELDS:
        raise ValidationError({"evidence_field": "Choose what the file shows."})
    if not data:
        raise ValidationError({"file": "Choose a file to upload."})
    if len(note or "") > 500:
        raise ValidationError({"note": "Keep the description under 500 characters."})
    store_id = None if is_staff(actor) else actor.store_id
    try:
        stored = evidence_files.save_upload(dispute, evidence_field, filename[:255] or "evidence", data,
                                            actor.user_id, store_id=store_id, note=(note or "").strip() or None)
    except ValueError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    _audit(actor, dispute, "dispute_file_added", {"file": stored.filename, "field": evidence_field},
           store_id=store_id)
    db.session.commit()
    return stored


def add_note(dispute_id: int, actor: Actor, body: str) -> DisputeNote:
    dispute = dispute_for(actor, dispute_id, lock=True)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the note first."})
    if len(body) > NOTE_LIMIT:
        raise ValidationError({"body": f"Keep the note under {NOTE_LIMIT:,} characters."})
    store_id = None if is_staff(actor) else actor.store_id
    note = DisputeNote(dispute_id=dispute.id, author_id=actor.user_id, store_id=store_id, body=body)
    db.session.add(note)
    _audit(actor, dispute, "dispute_note_added", {"length": len(body)}, store_id=store_id)
    db.session.commit()
    return note
