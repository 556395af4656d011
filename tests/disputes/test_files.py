"""Evidence files: checked, kept privately (local disk or S3 with SSE-KMS), pushed to Stripe Files once."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from covet.disputes import files
from covet.disputes.limits import FILE_MAX_BYTES, EvidenceFileError
from covet.disputes.models import DisputeFile
from covet.payments.gateway import GatewayError
from tests.disputes.evidence_support import GIF, PNG, make_pdf
from tests.media.support import fresh_bucket


@pytest.fixture
def dispute(make_order, make_dispute):
    return make_dispute(make_order(), reason="product_not_received")


def test_an_upload_is_checked_kept_privately_and_read_back(db, app, client, dispute, stores, make_user):
    merchant = make_user("merchant", store=stores[0])
    data = make_pdf(3)

    stored = files.save_upload(dispute, "shipping_documentation", "C:\\scans\\signed delivery.pdf", data,
                               merchant.id, store_id=stores[0].id, note="  Signed by the concierge  ")
    db.session.commit()

    row = db.session.get(DisputeFile, stored.id)
    assert row.storage_key.startswith(f"disputes/{dispute.id}/") and row.storage_key.endswith(".pdf")
    assert (row.filename, row.content_type, row.size, row.pages) == ("signed delivery.pdf", "application/pdf",
                                                                      len(data), 3)
    assert (row.generated, row.uploaded_by_id, row.store_id, row.note) == (False, merchant.id, stores[0].id,
                                                                           "Signed by the concierge")
    assert row.stripe_file_id is None
    assert files.read_file(row) == data
    # Nothing serves evidence publicly: the local media route answers only product renditions.
    assert client.get(f"/media/{row.storage_key}").status_code == 404


def test_a_png_upload_has_no_page_count(db, dispute):
    stored = files.save_upload(dispute, "customer_signature", "signature.png", PNG, None)

    assert (stored.content_type, stored.pages) == ("image/png", None)


@pytest.mark.parametrize(("field", "data", "message"), [
    ("receipt", GIF, "receipt.pdf is not a PDF, JPEG or PNG file"),
    ("receipt", b"%PDF-1.4\n" + b"0" * FILE_MAX_BYTES, "Stripe accepts evidence files of at most 5 MB"),
    ("uncategorized_text", make_pdf(1), "not one of Stripe's file evidence fields"),
    ("shoe_box", make_pdf(1), "not one of Stripe's file evidence fields"),
], ids=["gif-named-pdf", "over-5-mb", "text-field", "unknown-field"])  # fixed ids: the PDFs differ per process
def test_refused_uploads_leave_no_row_and_no_object(db, app, dispute, field, data, message):
    with pytest.raises(EvidenceFileError, match=message):
        files.save_upload(dispute, field, "receipt.pdf", data, None)

    assert db.session.scalars(select(DisputeFile)).all() == []
    assert not os.path.exists(os.path.join(app.config["MEDIA_ROOT"], "disputes"))


def test_on_s3_the_file_is_private_encrypted_and_not_cached(db, app, moto_endpoint, dispute):
    s3 = fresh_bucket(app, moto_endpoint)
    data = make_pdf(1)

    stored = files.save_upload(dispute, "receipt", "receipt.pdf", data, None)

    head = s3.client.head_object(Bucket=s3.bucket, Key=stored.storage_key)
    assert head["CacheControl"] == "private, no-store"
    assert head["ContentType"] == "application/pdf"
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == s3.kms_key_arn
    acl = s3.client.get_object_acl(Bucket=s3.bucket, Key=stored.storage_key)
    assert not [grant for grant in acl["Grants"] if grant["Grantee"].get("URI", "").endswith("AllUsers")]
    assert files.read_file(stored) == data


def test_push_to_stripe_uploads_once_with_an_idempotency_key(db, app, stripe_fake, dispute):
    stripe_fake.set_stripe_config(app)
    data = make_pdf(2)
    stored = files.save_upload(dispute, "receipt", "receipt-CV-1.pdf", data, None)
    db.session.commit()

    file_id = files.push_to_stripe(stored)
    db.session.commit()

    assert file_id.startswith("file_") and db.session.get(DisputeFile, stored.id).stripe_file_id == file_id
    uploaded = stripe_fake.objects[file_id]
    assert (uploaded["purpose"], uploaded["type"], uploaded["filename"]) == ("dispute_evidence", "pdf",
                                                                             "receipt-CV-1.pdf")
    assert stripe_fake.file_contents[file_id] == data
    [request] = stripe_fake.requests_to("POST", "/v1/files")
    assert request.headers.get("Idempotency-Key") == f"dispute-file:{stored.id}"

    assert files.push_to_stripe(stored) == file_id
    assert len(stripe_fake.requests_to("POST", "/v1/files")) == 1


def test_a_file_stripe_refuses_raises_its_words_and_stays_unsent(db, app, stripe_fake, dispute):
    stripe_fake.set_stripe_config(app)
    stored = files.save_upload(dispute, "receipt", "receipt.pdf", make_pdf(1), None)
    files.get_storage().put(stored.storage_key, GIF, "image/gif")  # changed behind Covet's back

    with pytest.raises(GatewayError, match="not a supported type"):
        files.push_to_stripe(stored)

    assert stored.stripe_file_id is None


def test_clean_filename_keeps_the_extension_within_255_characters():
    assert files.clean_filename("../../etc/passwd\x00.pdf", "application/pdf") == "passwd.pdf"
    assert files.clean_filename("", "image/png") == "evidence.png"
    long = files.clean_filename("a" * 300 + ".pdf", "application/pdf")
    assert len(long) == 255 and long.endswith(".pdf")
