"""The dispute page's forms: prepare evidence, save draft / submit, accept, assign, add a file, add a note.

Every action is a real form (CSRF, a one-time key where Stripe is called). Answers: htmx → the refreshed
detail and a toast; a refusal → 422 (409 for a colleague's save in between) with the user's input and the
messages at their fields; no JavaScript → 303 back to the page with a flash message, or the page with the
messages.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, abort, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from covet.disputes import actions
from covet.disputes.reasons import EVIDENCE_FIELDS, FILE_FIELDS
from covet.disputes.views import bp, render_detail
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.media.storage import StorageError
from covet.money import format_money
from covet.payments.gateway import GatewayError, PaymentsDisabledError
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, toast
from covet.web.params import parse_id, parse_int_or_none
from covet.web.policy import EVERYONE, STAFF, allow

STALE = ("A colleague saved this dispute while you were editing it. The form now shows their version; "
         "what you typed is kept below each field it changes — copy what you need and save again.")
# Stripe's refusals, in words (the gateway's message follows for anything else).
STRIPE_WORDS = {
    "dispute_already_submitted": "Stripe says the evidence was already submitted: it can usually be sent only once.",
    "dispute_closed": "Stripe says the dispute is closed: nothing more can be sent.",
    "dispute_past_due": "The deadline has passed: Stripe no longer accepts evidence for this dispute.",
}


STORAGE_DOWN = "The file could not be stored just now (media storage did not answer). Nothing was saved: try again."


def _act(dispute_id: int, action: Callable[[], str], anchor: str = "") -> Response:
    try:
        message = action()
    except NotFoundError:
        db.session.rollback()
        abort(404)
    except ValidationError as exc:
        db.session.rollback()
        return render_detail(dispute_id, 422, errors=exc.errors, form=request.form)
    except (ConflictError, StaleDataError) as exc:
        db.session.rollback()
        theirs = exc.current.get("fields", {}) if isinstance(exc, ConflictError) else {}
        return render_detail(dispute_id, 409, errors={"dispute": STALE}, conflict=_conflict(theirs))
    except PaymentsDisabledError:
        db.session.rollback()
        return render_detail(dispute_id, 422, form=request.form,
                             errors={"dispute": "Payments are not configured (STRIPE_SECRET_KEY): nothing was sent."})
    except StorageError:
        db.session.rollback()  # no row without its file: the same upload may simply be sent again
        return render_detail(dispute_id, 503, form=request.form, errors={"file": STORAGE_DOWN})
    except GatewayError as exc:
        db.session.rollback()  # nothing kept: the same form may be sent again (Stripe answers a key once)
        words = STRIPE_WORDS.get(exc.code or "", f"Stripe refused: {exc}")
        return render_detail(dispute_id, 422, form=request.form, errors={"dispute": words})
    toast(message)
    if is_fragment_request():
        return render_detail(dispute_id)
    return redirect_after_post(url_for("disputes.dispute_detail", dispute_id=dispute_id) + anchor)


def _conflict(theirs: dict) -> dict[str, str]:
    """What this user typed that differs from the colleague's saved version: {field: their own text}."""
    mine = {name: request.form.get(f"field-{name}", "").strip() for name in EVIDENCE_FIELDS if name not in FILE_FIELDS}
    return {name: text for name, text in mine.items() if text and text != (theirs.get(name) or "").strip()}


def _version() -> int | None:
    version = parse_int_or_none(request.form.get("version", ""))
    if version is None:
        raise ValidationError({"dispute": "This form is out of date. Reload the page and try again."})
    return version


def _form_fields() -> tuple[dict[str, str], dict[str, int | None]]:
    fields = {name: request.form.get(f"field-{name}", "") for name in EVIDENCE_FIELDS
              if name not in FILE_FIELDS and f"field-{name}" in request.form}
    files: dict[str, int | None] = {}
    for name in FILE_FIELDS:
        if f"file-{name}" in request.form:
            value = request.form[f"file-{name}"]
            files[name] = parse_id(value)
    return fields, files


@bp.post("/<int:dispute_id>/prepare")
@allow(*STAFF)
def dispute_prepare(dispute_id: int):
    """Fill the evidence from the order, its shipments, emails and the stores' policies; generate the PDFs."""
    def prepare() -> str:
        warnings = actions.prepare(dispute_id, current_actor(), _version())
        done = "Evidence prepared from the order. Check each field, then save a draft or submit."
        return " ".join([done, *warnings])
    return _act(dispute_id, prepare, "#evidence")


@bp.post("/<int:dispute_id>/evidence")
@allow(*STAFF)
def dispute_evidence(dispute_id: int):
    """Save draft (staged on Stripe, submit=false) or Submit (submit=true, after the confirmation box)."""
    def save() -> str:
        submit = request.form.get("intent") == "submit"
        if submit and request.form.get("confirm_submit") != "yes":
            raise ValidationError({"confirm_submit": "Tick the box: evidence can usually be submitted only once."})
        fields, files = _form_fields()
        _, outcome = actions.save_evidence(dispute_id, current_actor(), fields, files, _version(),
                                           request.form.get("idempotency_key", ""), submit)
        if outcome == "repeat":
            return "Already done: this form was sent before."
        if outcome == "local":
            return "Draft saved in Covet. Stripe is not configured, so nothing was staged on Stripe."
        return "Evidence submitted to the bank through Stripe." if submit else "Draft saved and staged on Stripe."
    return _act(dispute_id, save, "#evidence")


@bp.post("/<int:dispute_id>/accept")
@allow(*STAFF)
def dispute_accept(dispute_id: int):
    """Accept the dispute (close it on Stripe): the amount and the fee are lost. Needs the box and a reason."""
    def accept() -> str:
        if request.form.get("confirm_accept") != "yes":
            raise ValidationError({"confirm_accept": "Tick the box: accepting cannot be undone."})
        dispute, did = actions.accept(dispute_id, current_actor(), request.form.get("accept_reason", ""),
                                      _version(), request.form.get("idempotency_key", ""))
        if not did:
            return "Already done: this form was sent before."
        return f"Dispute accepted: {format_money(dispute.amount, dispute.currency)} goes back to the customer."
    return _act(dispute_id, accept)


@bp.post("/<int:dispute_id>/assign")
@allow(*STAFF)
def dispute_assign(dispute_id: int):
    """Assign the dispute: `assignee` is "me", "" (nobody) or a user id."""
    def give() -> str:
        value = request.form.get("assignee", "").strip()
        actor = current_actor()
        if value not in ("", "me") and parse_id(value) is None:
            raise ValidationError({"assignee": "Choose someone from the list."})
        assignee_id = actor.user_id if value == "me" else parse_id(value)
        actions.assign(dispute_id, actor, assignee_id)
        return "Dispute unassigned." if assignee_id is None else "Dispute assigned."
    return _act(dispute_id, give, "#dispute-assignee")


@bp.post("/<int:dispute_id>/files")
@allow(*EVERYONE)
def dispute_file_add(dispute_id: int):
    """Upload a file of evidence (PDF, JPEG or PNG, up to 5 MB): staff, or a store in the order."""
    def upload() -> str:
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            raise ValidationError({"file": "Choose a file to upload."})
        data = sent.stream.read(5 * 1024 * 1024 + 1)
        stored = actions.add_file(dispute_id, current_actor(), request.form.get("evidence_field", ""),
                                  sent.filename, data, request.form.get("note", ""))
        return f"{stored.filename} added to the evidence."
    return _act(dispute_id, upload, "#evidence-files")


@bp.post("/<int:dispute_id>/notes")
@allow(*EVERYONE)
def dispute_note_add(dispute_id: int):
    """A note on the dispute (a store tells staff what it knows)."""
    def note() -> str:
        actions.add_note(dispute_id, current_actor(), request.form.get("body", ""))
        return "Note added."
    return _act(dispute_id, note, "#dispute-notes")
