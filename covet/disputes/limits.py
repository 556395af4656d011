"""What Stripe and the card networks accept as dispute evidence, checked before anything is sent.

Text: at most 20,000 characters in one field and 150,000 in all fields together (Stripe). Files: PDF, JPEG or
PNG as the bytes say (never the name or the browser's Content-Type), at most 5 MB each (Stripe Files, purpose
`dispute_evidence`); a file of more than 19 pages is accepted with a warning (Mastercard refuses them).
"""
from __future__ import annotations

import re
import zlib

from covet.disputes.reasons import EVIDENCE_FIELDS

FIELD_LIMIT = 20_000
TOTAL_LIMIT = 150_000
MB = 1024 * 1024
FILE_MAX_BYTES = 5 * MB
PAGE_WARN = 19
ALL = "__all__"  # the key of a message about the fields together
# The first bytes of each type Stripe takes for dispute evidence, as its own upload check reads them.
MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
TYPE_NAMES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


class EvidenceFileError(ValueError):
    """A file Stripe would refuse as evidence; the message says which file and why, fit to show."""


def check_fields(fields: dict) -> dict[str, str]:
    """Field name → what is wrong with it ({} when Stripe will take them all); ALL for the total."""
    errors: dict[str, str] = {}
    total = 0
    for name, value in fields.items():
        spec = EVIDENCE_FIELDS.get(name)
        if spec is None:
            errors[name] = f"“{name}” is not one of Stripe's evidence fields."
            continue
        if spec.is_file:
            errors[name] = f"{spec.label} is a file: upload it rather than typing it."
            continue
        if value is not None and not isinstance(value, str):
            errors[name] = f"{spec.label} must be text."
            continue
        length = len(value or "")
        total += length
        if length > FIELD_LIMIT:
            errors[name] = f"{spec.label} is {length:,} characters; Stripe accepts at most {FIELD_LIMIT:,}."
    if total > TOTAL_LIMIT:
        errors[ALL] = (f"All fields together are {total:,} characters; Stripe accepts at most {TOTAL_LIMIT:,}. "
                       f"Shorten them by {total - TOTAL_LIMIT:,} or attach the long text as a file.")
    return errors


def sniff_type(data: bytes) -> str | None:
    """The content type the bytes begin with, among those Stripe takes as evidence; None for anything else."""
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def check_file(data: bytes, filename: str) -> tuple[str, int | None]:
    """(content type, pages) of a file Stripe will take as evidence; pages is None for an image or an
    unreadable page tree. Raises EvidenceFileError for an empty, oversized or unsupported file."""
    name = _display_name(filename)
    if not data:
        raise EvidenceFileError(f"{name} is empty.")
    if len(data) > FILE_MAX_BYTES:
        raise EvidenceFileError(f"{name} is {len(data) / MB:.1f} MB ({len(data):,} bytes); Stripe accepts evidence "
                                f"files of at most {FILE_MAX_BYTES // MB} MB ({FILE_MAX_BYTES:,} bytes).")
    kind = sniff_type(data)
    if kind is None:
        raise EvidenceFileError(f"{name} is not a PDF, JPEG or PNG file (whatever its name says); "
                                f"Stripe accepts only those as evidence.")
    return kind, count_pdf_pages(data) if kind == "application/pdf" else None


def page_warning(filename: str, pages: int | None) -> str | None:
    """A warning for a file over Mastercard's page limit, None otherwise."""
    if pages is None or pages <= PAGE_WARN:
        return None
    return (f"{_display_name(filename)} has {pages} pages; Mastercard refuses evidence files of more than "
            f"{PAGE_WARN} pages. Split it or keep only the pages that matter.")


def _display_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rpartition("/")[2].strip()
    return name[:120] or "The file"


# --- page counting without a PDF library: the page tree root's /Count, in plain or compressed objects
# Bounded digits after a non-digit: a file of megabytes of digits is scanned once, not once per digit.
_OBJECT_START = re.compile(rb"(?<![0-9])[0-9]{1,10}[ \t\r\n]{1,4}[0-9]{1,5}[ \t\r\n]{1,4}obj(?![A-Za-z])")
_PAGES_NODE = re.compile(rb"/Type\s*/Pages(?![A-Za-z])")
_LEAF = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_COUNT = re.compile(rb"/Count\s+(\d+)")
_PARENT = re.compile(rb"/Parent\s+\d+\s+\d+\s+R")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm(?![A-Za-z])")
_FIRST = re.compile(rb"/First\s+(\d+)")


def count_pdf_pages(data: bytes) -> int | None:
    """Pages of a PDF: the last page tree root's /Count (later revisions come later in the file), else the
    number of page objects; None when neither can be read (an encrypted object stream, a broken file)."""
    bodies = list(_object_bodies(data))
    roots = [body for body in bodies if _PAGES_NODE.search(body) and not _PARENT.search(body)]
    for body in reversed(roots):
        if (count := _COUNT.search(body)) is not None:
            return int(count.group(1))
    leaves = sum(1 for body in bodies if _LEAF.search(body))
    return leaves or None


def _object_bodies(data: bytes):
    """Each indirect object's dictionary text, with the objects packed in object streams unpacked."""
    for match in _OBJECT_START.finditer(data):
        end = data.find(b"endobj", match.end())
        if end < 0:
            return  # no object after this one is closed either
        body = data[match.end():end]
        head = body.split(b"stream", 1)[0]
        if _OBJECT_STREAM.search(head):
            yield from _packed_objects(head, body)
        else:
            yield head


def _packed_objects(head: bytes, body: bytes):
    stream, first = _STREAM.search(body), _FIRST.search(head)
    if stream is None or first is None:
        return
    try:
        raw = zlib.decompress(stream.group(1)) if b"/FlateDecode" in head else stream.group(1)
    except zlib.error:
        return
    offset = int(first.group(1))
    numbers = [int(token) for token in raw[:offset].split()]
    starts = [offset + start for start in numbers[1::2]]
    for begin, end in zip(starts, [*starts[1:], len(raw)], strict=True):
        yield raw[begin:end]
