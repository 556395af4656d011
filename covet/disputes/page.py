"""What the dispute page shows of the evidence: the fields for this reason first, counters against Stripe's limits,
the files by field, and deadlines in words ("2 d 4 h left")."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from covet.accounts.models import User
from covet.dbtypes import utcnow
from covet.disputes.limits import FIELD_LIMIT, PAGE_WARN, TOTAL_LIMIT
from covet.disputes.models import Dispute, DisputeFile, DisputeNote
from covet.disputes.reasons import EVIDENCE_FIELDS, FILE_FIELDS, fields_for, reason_label
from covet.extensions import db
from covet.stores.models import Store
from covet.web.params import parse_id


def countdown(due: dt.datetime | None, now: dt.datetime | None = None) -> tuple[str, str]:
    """('2 d 4 h left', tone): tone 'bad' under 24 h or past due, 'warn' under 72 h, '' otherwise."""
    if due is None:
        return "no deadline", ""
    left = due - (now or utcnow())
    if left <= dt.timedelta(0):
        return "past due", "bad"
    days, hours, minutes = left.days, left.seconds // 3600, left.seconds % 3600 // 60
    words = f"{days} d {hours} h left" if days else (f"{hours} h {minutes} min left" if hours else
                                                      f"{max(minutes, 1)} min left")
    tone = "bad" if left < dt.timedelta(hours=24) else ("warn" if left < dt.timedelta(hours=72) else "")
    return words, tone


@dataclass
class FieldView:
    name: str
    label: str
    hint: str
    value: str
    suggested: bool  # Stripe's reviewers look for it for this reason
    error: str | None = None

    @property
    def length(self) -> int:
        return len(self.value)


@dataclass
class FileFieldView:
    name: str
    label: str
    hint: str
    suggested: bool
    chosen: int | None
    options: list[DisputeFile]
    error: str | None = None


@dataclass
class FileView:
    file: DisputeFile
    uploaded_by: str | None
    store: str | None

    @property
    def warning(self) -> str | None:
        if self.file.pages and self.file.pages > PAGE_WARN:
            return (f"{self.file.pages} pages: Mastercard accepts at most {PAGE_WARN} pages in one file; "
                    "shorten it or split the evidence.")
        return None


@dataclass
class NoteView:
    note: DisputeNote
    author: str | None
    store: str | None


@dataclass
class EvidenceView:
    reason: str
    fields: list[FieldView]
    more_fields: list[FieldView]
    file_fields: list[FileFieldView]
    files: list[FileView]
    notes: list[NoteView]
    field_limit: int = FIELD_LIMIT
    total_limit: int = TOTAL_LIMIT
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(view.length for view in self.fields + self.more_fields)

    @property
    def file_choices(self) -> dict[str, str]:
        return {view.name: view.label for view in self.file_fields}


def evidence_view(dispute: Dispute, form: Mapping[str, str] | None = None,
                  errors: Mapping[str, str] | None = None, store_id: int | None = None) -> EvidenceView:
    """The evidence as saved (or as the user typed it, after a refusal), the reason's fields first.

    A merchant (`store_id`) sees only their store's files and notes: the packet holds the whole order."""
    errors = dict(errors or {})
    draft = dispute.evidence_draft or {}
    saved, chosen = draft.get("fields", {}), draft.get("files", {})
    suggested = set(fields_for(dispute.reason))
    files = _files(dispute, store_id)
    by_field: dict[str, list[DisputeFile]] = {}
    for view in files:
        by_field.setdefault(view.file.evidence_field, []).append(view.file)
    text_views, file_views = [], []
    for name, spec in EVIDENCE_FIELDS.items():
        if name in FILE_FIELDS:
            options = by_field.get(name, [])
            picked = _picked(form, name, chosen.get(name), options)
            file_views.append(FileFieldView(name, spec.label, spec.hint, name in suggested, picked, options,
                                            errors.get(name)))
        else:
            value = form.get(f"field-{name}", "") if form is not None else saved.get(name, "")
            text_views.append(FieldView(name, spec.label, spec.hint, value, name in suggested, errors.get(name)))
    file_views.sort(key=lambda view: (not view.suggested, not view.options))
    return EvidenceView(reason_label(dispute.reason), [v for v in text_views if v.suggested or v.value],
                        [v for v in text_views if not (v.suggested or v.value)], file_views, files,
                        _notes(dispute, store_id), errors=errors)


def _picked(form, name: str, saved: int | None, options: list[DisputeFile]) -> int | None:
    """The file chosen for a field: the form's, else the saved choice, else the newest file for it."""
    if form is not None:
        value = form.get(f"file-{name}", "")
        return parse_id(value)
    if saved:
        return saved
    return options[-1].id if options else None


def _files(dispute: Dispute, store_id: int | None) -> list[FileView]:
    stmt = (select(DisputeFile, User.email, Store.name).outerjoin(User, User.id == DisputeFile.uploaded_by_id)
            .outerjoin(Store, Store.id == DisputeFile.store_id)
            .where(DisputeFile.dispute_id == dispute.id).order_by(DisputeFile.id))
    if store_id is not None:
        stmt = stmt.where(DisputeFile.store_id == store_id)
    rows = db.session.execute(stmt)
    return [FileView(stored, email, store) for stored, email, store in rows]


def _notes(dispute: Dispute, store_id: int | None) -> list[NoteView]:
    stmt = (select(DisputeNote, User.email, Store.name).outerjoin(User, User.id == DisputeNote.author_id)
            .outerjoin(Store, Store.id == DisputeNote.store_id)
            .where(DisputeNote.dispute_id == dispute.id).order_by(DisputeNote.created_at.desc()).limit(200))
    if store_id is not None:
        stmt = stmt.where(DisputeNote.store_id == store_id)
    rows = db.session.execute(stmt)
    return [NoteView(note, email, store) for note, email, store in rows]
