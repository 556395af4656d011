"""Stripe's and the networks' limits on evidence, checked before anything is sent."""
from __future__ import annotations

import zlib

import pytest

from covet.disputes import limits
from covet.disputes.limits import ALL, FIELD_LIMIT, FILE_MAX_BYTES, TOTAL_LIMIT, EvidenceFileError
from covet.disputes.reasons import EVIDENCE_FIELDS, FIELDS_BY_REASON, FILE_FIELDS, TEXT_FIELDS, fields_for, reason_label
from tests.disputes.evidence_support import GIF, JPEG, PNG, make_pdf


def test_a_field_of_exactly_20000_characters_passes_and_20001_is_refused_with_a_clear_message():
    assert limits.check_fields({"uncategorized_text": "x" * FIELD_LIMIT}) == {}

    errors = limits.check_fields({"uncategorized_text": "x" * (FIELD_LIMIT + 1), "customer_name": "Ana"})

    assert errors == {"uncategorized_text": "Other information is 20,001 characters; Stripe accepts at most 20,000."}


def test_all_fields_together_may_hold_150000_characters_not_one_more():
    at_limit = {name: "y" * 18_750 for name in TEXT_FIELDS[:8]}
    assert sum(map(len, at_limit.values())) == TOTAL_LIMIT
    assert limits.check_fields(at_limit) == {}

    over = {**at_limit, TEXT_FIELDS[8]: "z"}
    errors = limits.check_fields(over)

    assert list(errors) == [ALL]
    assert errors[ALL].startswith("All fields together are 150,001 characters; Stripe accepts at most 150,000.")


def test_unknown_fields_and_file_fields_are_refused_at_the_field():
    errors = limits.check_fields({"shoe_size": "42", "receipt": "see attached", "customer_name": None})

    assert errors == {"shoe_size": "“shoe_size” is not one of Stripe's evidence fields.",
                      "receipt": "Receipt is a file: upload it rather than typing it."}


def test_files_are_typed_by_their_bytes_not_their_name():
    assert limits.check_file(make_pdf(2), "proof.jpg") == ("application/pdf", 2)
    assert limits.check_file(PNG, "photo.pdf") == ("image/png", None)
    assert limits.check_file(JPEG, "scan") == ("image/jpeg", None)
    with pytest.raises(EvidenceFileError, match="signature.pdf is not a PDF, JPEG or PNG file"):
        limits.check_file(GIF, "C:\\Users\\ana\\signature.pdf")
    with pytest.raises(EvidenceFileError, match="empty"):
        limits.check_file(b"", "nothing.pdf")


def test_five_megabytes_pass_and_one_byte_more_is_refused():
    exact = b"%PDF-1.4\n" + b"0" * (FILE_MAX_BYTES - 9)
    assert len(exact) == FILE_MAX_BYTES
    assert limits.check_file(exact, "big.pdf")[0] == "application/pdf"

    with pytest.raises(EvidenceFileError) as refused:
        limits.check_file(exact + b"0", "big.pdf")

    assert str(refused.value) == ("big.pdf is 5.0 MB (5,242,881 bytes); Stripe accepts evidence files of at most "
                                  "5 MB (5,242,880 bytes).")
    assert isinstance(refused.value, ValueError)


def test_more_than_19_pages_is_warned_not_refused():
    kind, pages = limits.check_file(make_pdf(20), "delivery.pdf")

    assert (kind, pages) == ("application/pdf", 20)
    assert limits.page_warning("delivery.pdf", pages) == (
        "delivery.pdf has 20 pages; Mastercard refuses evidence files of more than 19 pages. "
        "Split it or keep only the pages that matter.")
    assert limits.page_warning("delivery.pdf", 19) is None
    assert limits.page_warning("photo.png", None) is None


def _object_stream_pdf(pages: int) -> bytes:
    """A PDF whose page tree sits in a compressed object stream (PDF 1.5), as many tools write them."""
    objects = {2: f"<< /Type /Pages /Kids [{' '.join(f'{3 + n} 0 R' for n in range(pages))}] /Count {pages} >>"}
    objects |= {3 + n: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>" for n in range(pages)}
    bodies, offsets, position = [], [], 0
    for number, body in objects.items():
        offsets.append(f"{number} {position}")
        bodies.append(body)
        position += len(body) + 1
    header = " ".join(offsets) + " "
    packed = zlib.compress((header + "\n".join(bodies)).encode())
    return (b"%PDF-1.5\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            + f"9 0 obj\n<< /Type /ObjStm /N {len(objects)} /First {len(header)} /Filter /FlateDecode "
              f"/Length {len(packed)} >>\nstream\n".encode() + packed + b"\nendstream\nendobj\n%%EOF\n")


def test_pages_are_counted_in_plain_and_compressed_page_trees():
    assert limits.count_pdf_pages(make_pdf(1)) == 1
    assert limits.count_pdf_pages(make_pdf(23)) == 23
    assert limits.count_pdf_pages(_object_stream_pdf(21)) == 21
    assert limits.count_pdf_pages(b"%PDF-1.4 nothing readable") is None


def test_every_reason_has_words_and_every_field_a_label_kind_and_hint():
    assert reason_label("product_not_received") == "Product not received"
    assert reason_label("fraudulent") == "Fraudulent"
    assert reason_label("some_new_reason") == "Some new reason"
    assert set(FILE_FIELDS) == {"cancellation_policy", "customer_communication", "customer_signature",
                                "duplicate_charge_documentation", "receipt", "refund_policy",
                                "service_documentation", "shipping_documentation", "uncategorized_file"}
    assert len(EVIDENCE_FIELDS) == 27
    for spec in EVIDENCE_FIELDS.values():
        assert spec.label and spec.hint and spec.kind in ("text", "file")
    for reason, names in FIELDS_BY_REASON.items():
        assert set(names) <= set(EVIDENCE_FIELDS), reason
        assert {"receipt", "customer_communication"} <= set(fields_for(reason))
