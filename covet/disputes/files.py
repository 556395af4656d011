"""Evidence files: kept privately in media storage first, uploaded to Stripe Files when evidence is saved there.

Keys are `disputes/<dispute id>/<random>.<ext>` with `Cache-Control: private, no-store`. Nothing serves them
publicly: the local media route serves only product renditions, and the S3 bucket is private (no ACL, read
back by the app only). A file written to storage whose transaction then rolls back stays as an unreferenced
object under its dispute's prefix.
"""
from __future__ import annotations

import re
import uuid

from covet.disputes.limits import EvidenceFileError, check_file
from covet.disputes.models import Dispute, DisputeFile
from covet.disputes.reasons import EVIDENCE_FIELDS
from covet.extensions import db
from covet.media.storage import StorageError, get_storage
from covet.payments import gateway

PRIVATE = "private, no-store"
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
NOTE_MAX = 500
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


def storage_key(dispute_id: int, content_type: str) -> str:
    return f"disputes/{dispute_id}/{uuid.uuid4().hex}.{EXTENSIONS[content_type]}"


def clean_filename(filename: str | None, content_type: str) -> str:
    """The name without folders or control characters, at most 255 characters; a plain one when nothing is left."""
    name = _UNSAFE.sub("", (filename or "").replace("\\", "/").rpartition("/")[2]).strip()
    if not name:
        return f"evidence.{EXTENSIONS[content_type]}"
    stem, dot, ext = name.rpartition(".")
    return name if len(name) <= 255 else (stem[:255 - len(ext) - 1] + dot + ext if dot else name[:255])


def _store(dispute: Dispute, evidence_field: str, filename: str, data: bytes, content_type: str,
           pages: int | None, **row) -> DisputeFile:
    key = storage_key(dispute.id, content_type)
    get_storage().put(key, data, content_type, cache_control=PRIVATE)
    stored = DisputeFile(dispute_id=dispute.id, evidence_field=evidence_field,
                         filename=clean_filename(filename, content_type), storage_key=key, content_type=content_type,
                         size=len(data), pages=pages, **row)
    dispute.files.append(stored)
    db.session.flush()
    return stored


def save_upload(dispute: Dispute, evidence_field: str, filename: str, data: bytes, uploader_user_id: int | None,
                store_id: int | None = None, note: str | None = None) -> DisputeFile:
    """Check a file staff or a store uploaded, keep it privately, and record it (flushed, not committed).

    Raises EvidenceFileError (a ValueError) for a field that takes no file or a file Stripe would refuse,
    StorageError when storage fails."""
    spec = EVIDENCE_FIELDS.get(evidence_field)
    if spec is None or not spec.is_file:
        raise EvidenceFileError(f"“{evidence_field}” is not one of Stripe's file evidence fields.")
    content_type, pages = check_file(data, filename)
    return _store(dispute, evidence_field, filename, data, content_type, pages, generated=False,
                  uploaded_by_id=uploader_user_id, store_id=store_id, note=(note or "").strip()[:NOTE_MAX] or None)


def save_generated(dispute: Dispute, doc, user_id: int | None) -> DisputeFile:
    """Keep a document Covet made (a GeneratedDoc) as a generated file of the dispute."""
    return _store(dispute, doc.evidence_field, doc.filename, doc.data, doc.content_type, doc.pages, generated=True,
                  uploaded_by_id=user_id)


def read_file(dispute_file: DisputeFile) -> bytes:
    """The file's bytes from storage (StorageError when it is missing)."""
    if not dispute_file.storage_key:
        raise StorageError(f"{dispute_file.filename} is not in Covet's storage.")
    return get_storage().get(dispute_file.storage_key)


def push_to_stripe(dispute_file: DisputeFile) -> str:
    """Upload the file to Stripe Files (purpose dispute_evidence) once; its Stripe file id.

    Raises GatewayError with Stripe's refusal in words; a retry after a lost answer returns the same File."""
    if dispute_file.stripe_file_id:
        return dispute_file.stripe_file_id
    uploaded = gateway.upload_file(read_file(dispute_file), dispute_file.filename, purpose="dispute_evidence",
                                   idempotency_key=f"dispute-file:{dispute_file.id}")
    dispute_file.stripe_file_id = uploaded["id"]
    db.session.flush()
    return dispute_file.stripe_file_id
