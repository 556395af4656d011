"""The evidence packet: fields chosen by reason, PDFs from the order, and how prepare merges into the draft."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from covet.audit.services import Actor
from covet.dbtypes import utcnow
from covet.disputes import evidence, files
from covet.disputes.limits import FIELD_LIMIT
from covet.disputes.models import DisputeFile
from covet.errors import ValidationError
from covet.media.pipeline import delete_objects
from covet.media.storage import get_storage
from covet.orders.models import OrderLine
from covet.payments.models import Payment
from tests.disputes.evidence_support import make_pdf, pdf_text, sent_email, ship, shipping_context

DAY = dt.timedelta(days=1)


@pytest.fixture
def shipped_order(db, make_order):
    order = make_order(email="olivia@example.test")
    order.customer_name, order.customer_ip = "Olivia Martin", "203.0.113.7"
    order.shipping_address = {"line1": "12 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}
    db.session.commit()
    shipment = ship(order, tracking="JD0146000777", shipped_at=dt.datetime(2026, 11, 21, 14, 5, tzinfo=dt.UTC))
    sent_email(order)
    sent_email(order, "shipping_notification", shipping_context(order, shipment))
    return order


@pytest.fixture
def staff(make_user):
    return Actor.for_user(make_user("staff"))


def _doc_fields(packet) -> list[str]:
    return [doc.evidence_field for doc in packet.documents]


def test_product_not_received_fills_shipping_and_attaches_three_pdfs_without_writing(db, shipped_order, make_dispute):
    dispute = make_dispute(shipped_order, reason="product_not_received")
    version = dispute.version

    packet = evidence.assemble(dispute)

    assert packet.fields["shipping_carrier"] == "DHL"
    assert packet.fields["shipping_tracking_number"] == "JD0146000777"
    assert packet.fields["shipping_date"] == "2026-11-21"
    assert packet.fields["shipping_address"] == "12 Rue de la Paix\n75002 Paris\nFR"
    assert packet.fields["customer_name"] == "Olivia Martin"
    assert packet.fields["customer_email_address"] == "olivia@example.test"
    assert "1 × Lune Bag, SKU LUNE-BAG-1, €250.00 each, sold by Lune" in packet.fields["product_description"]
    assert "customer_purchase_ip" not in packet.fields and "uncategorized_text" not in packet.fields
    assert _doc_fields(packet) == ["shipping_documentation", "receipt", "customer_communication"]
    assert {doc.filename for doc in packet.documents} == {f"shipping-{shipped_order.number}.pdf",
                                                          f"receipt-{shipped_order.number}.pdf",
                                                          f"customer-communication-{shipped_order.number}.pdf"}
    assert "JD0146000777" in pdf_text(packet.documents[0].data)
    assert all(doc.data.startswith(b"%PDF-") and doc.pages >= 1 for doc in packet.documents)
    assert packet.warnings == []
    # A pure read: nothing added, changed or flushed.
    assert not db.session.new and not db.session.dirty
    db.session.commit()
    assert db.session.query(DisputeFile).count() == 0
    assert dispute.version == version and dispute.evidence_draft == {}


def test_product_not_received_without_a_shipment_warns_and_has_no_shipping_pdf(db, make_order, make_dispute):
    packet = evidence.assemble(make_dispute(make_order(), reason="product_not_received"))

    assert _doc_fields(packet) == ["receipt", "customer_communication"]
    assert "shipping_carrier" not in packet.fields
    assert any("No shipment is recorded" in w for w in packet.warnings)
    assert any("No email to the customer" in w for w in packet.warnings)


def test_fraud_gives_ip_and_prior_undisputed_orders_of_the_same_customer(db, shipped_order, make_order, make_dispute):
    earlier = make_order(email="Olivia@Example.test", created_at=utcnow() - 30 * DAY, number="CV-0900")
    disputed_before = make_order(email="olivia@example.test", created_at=utcnow() - 20 * DAY, number="CV-0901")
    make_dispute(disputed_before, status="lost", reason="fraudulent")
    make_order(email="olivia@example.test", created_at=utcnow() - 10 * DAY, number="CV-0902",
               payment_status="unpaid")
    make_order(email="someone.else@example.test", created_at=utcnow() - 10 * DAY, number="CV-0903")
    dispute = make_dispute(shipped_order, reason="fraudulent")

    packet = evidence.assemble(dispute)

    assert packet.fields["customer_purchase_ip"] == "203.0.113.7"
    assert packet.fields["shipping_address"].startswith("12 Rue de la Paix")
    other = packet.fields["uncategorized_text"]
    assert "paid and never disputed" in other and earlier.number in other
    assert "CV-0901" not in other and "CV-0902" not in other and "CV-0903" not in other
    assert "from IP address 203.0.113.7" in other
    assert "shipping_carrier" not in packet.fields and "billing_address" not in packet.fields
    assert any("no billing address" in w for w in packet.warnings)
    assert _doc_fields(packet) == ["receipt", "customer_communication"]


def test_unrecognized_without_ip_or_history_says_so(db, make_order, make_dispute):
    packet = evidence.assemble(make_dispute(make_order(), reason="unrecognized"))

    assert "customer_purchase_ip" not in packet.fields
    assert packet.fields["uncategorized_text"].startswith("Covet holds no earlier undisputed order")
    assert any("no purchase IP" in w for w in packet.warnings)


def test_product_unacceptable_attaches_the_refund_policy_and_its_disclosure(db, shipped_order, stores, make_dispute):
    stores[0].refund_policy = "Returns within 30 days of delivery, unworn."
    db.session.commit()

    packet = evidence.assemble(make_dispute(shipped_order, reason="product_unacceptable"))

    assert _doc_fields(packet) == ["refund_policy", "receipt", "customer_communication"]
    assert "Returns within 30 days" in pdf_text(packet.documents[0].data)
    assert "refund policy of Lune" in packet.fields["refund_policy_disclosure"]
    assert "SKU NOOR-BAG-1" in packet.fields["product_description"]
    assert "No refund has been requested" in packet.fields["refund_refusal_explanation"]
    assert any("No refund policy set for Noor" in w for w in packet.warnings)


def test_subscription_canceled_and_credit_not_processed_take_the_policies(db, shipped_order, stores, make_dispute):
    stores[1].cancellation_policy = "Cancel any time before shipping."
    db.session.commit()

    cancelled = evidence.assemble(make_dispute(shipped_order, reason="subscription_canceled"))
    credit = evidence.assemble(make_dispute(shipped_order, reason="credit_not_processed"))

    assert _doc_fields(cancelled) == ["cancellation_policy", "receipt", "customer_communication"]
    assert cancelled.fields["cancellation_rebuttal"].startswith(f"Order {shipped_order.number} was never cancelled")
    assert "refund_refusal_explanation" in cancelled.fields
    assert set(credit.fields) == {"refund_refusal_explanation", "customer_name", "customer_email_address"}
    assert any("No refund policy set for Lune, Noor" in w for w in credit.warnings)


def test_duplicate_names_the_other_charge_of_the_same_customer(db, shipped_order, make_order, make_dispute):
    other = make_order(email="olivia@example.test", created_at=shipped_order.created_at - DAY, number="CV-0950")

    packet = evidence.assemble(make_dispute(shipped_order, reason="duplicate"))

    other_charge = db.session.scalar(select(Payment.charge_id).where(Payment.order_id == other.id))
    own_charge = db.session.scalar(select(Payment.charge_id).where(Payment.order_id == shipped_order.id))
    assert packet.fields["duplicate_charge_id"] == other_charge != own_charge
    assert f"and order {other.number}" in packet.fields["duplicate_charge_explanation"]
    assert "separate purchases" in packet.fields["duplicate_charge_explanation"]


def test_duplicate_without_a_twin_says_it_was_charged_once(db, shipped_order, make_dispute):
    packet = evidence.assemble(make_dispute(shipped_order, reason="duplicate"))

    assert "duplicate_charge_id" not in packet.fields
    assert "was charged once" in packet.fields["duplicate_charge_explanation"]


def test_general_and_unknown_reasons_tell_the_story_in_uncategorized_text(db, shipped_order, make_dispute):
    for reason in ("general", "bank_cannot_process"):
        packet = evidence.assemble(make_dispute(shipped_order, reason=reason))
        story = packet.fields["uncategorized_text"]
        assert f"Order {shipped_order.number} was placed on" in story
        assert "shipped with DHL" in story and "tracking JD0146000777" in story
        assert "Covet emailed the customer 2 times" in story
        assert _doc_fields(packet) == ["receipt", "customer_communication"]


def test_a_dispute_without_an_order_is_left_to_staff(db, make_dispute):
    packet = evidence.assemble(make_dispute(None))

    assert packet.fields == {} and packet.documents == []
    assert "not linked to a Covet order" in packet.warnings[0]


def test_long_text_is_cut_to_the_field_limit(db, make_order, stores, make_dispute):
    order = make_order(stores=[stores[0]])
    for n in range(400):
        order.lines.append(OrderLine(store_id=stores[0].id, product_title=f"Hand-painted silk scarf {n}",
                                     variant_title="Midnight blue", sku=f"SCARF-{n:04d}", unit_price_amount=1000,
                                     quantity=1))
    db.session.commit()

    description = evidence.assemble(make_dispute(order, reason="general")).fields["product_description"]

    assert len(description) == FIELD_LIMIT and description.endswith("…")


def test_prepare_stores_the_pdfs_and_fills_the_draft(db, shipped_order, make_dispute, staff):
    dispute = make_dispute(shipped_order)
    version = dispute.version

    packet = evidence.prepare(dispute, staff)
    db.session.commit()

    generated = db.session.query(DisputeFile).filter_by(dispute_id=dispute.id).all()
    assert sorted(f.evidence_field for f in generated) == ["customer_communication", "receipt",
                                                           "shipping_documentation"]
    assert all(f.generated and f.uploaded_by_id == staff.user_id and f.storage_key.startswith("disputes/")
               for f in generated)
    assert dispute.evidence_draft["files"] == {f.evidence_field: f.id for f in generated}
    assert dispute.evidence_draft["fields"] == packet.fields
    assert dispute.version == version + 1
    receipt = next(f for f in generated if f.evidence_field == "receipt")
    assert shipped_order.number in pdf_text(files.read_file(receipt))


def test_prepare_again_keeps_staff_edits_and_uploads_and_replaces_generated_files(db, shipped_order, make_dispute,
                                                                                  staff):
    dispute = make_dispute(shipped_order)
    evidence.prepare(dispute, staff)
    db.session.commit()
    first = {f.evidence_field: f for f in dispute.files}
    upload = files.save_upload(dispute, "receipt", "till-receipt.pdf", make_pdf(1), staff.user_id)
    # Staff edit one field, clear another, leave the rest as Covet filled them, and choose their own receipt.
    draft = dict(dispute.evidence_draft)
    draft["fields"] = {**draft["fields"], "shipping_carrier": "DHL Express, signed for by the concierge",
                       "customer_name": ""}
    draft["files"] = {**draft["files"], "receipt": upload.id}
    dispute.evidence_draft = draft
    db.session.commit()
    old_keys = [f.storage_key for f in first.values()]
    ship(shipped_order, carrier="ups", tracking="1Z999AA10123456784", lines=shipped_order.lines[1:])

    evidence.prepare(dispute, staff)
    # The job's arguments, read before the commit hands the row to RQ (which deletes it) or runs it in-process.
    jobs = [list(row.args) for row in db.session.info.get("covet_jobs", [])
            if row.func.endswith("delete_stored_objects")]
    db.session.commit()

    fields = dispute.evidence_draft["fields"]
    assert fields["shipping_carrier"] == "DHL Express, signed for by the concierge"  # edited: kept
    assert fields["customer_name"] == "Olivia Martin"  # emptied: filled again
    assert fields["shipping_tracking_number"] == "JD0146000777, 1Z999AA10123456784"  # untouched: brought up to date
    now = {f.evidence_field: f for f in dispute.files if f.generated}
    assert set(now) == set(first) and not {f.id for f in now.values()} & {f.id for f in first.values()}
    assert db.session.get(DisputeFile, upload.id) is not None  # the upload is never replaced
    assert dispute.evidence_draft["files"] == {"receipt": upload.id,
                                               "customer_communication": now["customer_communication"].id,
                                               "shipping_documentation": now["shipping_documentation"].id}
    assert "1Z999AA10123456784" in pdf_text(files.read_file(now["shipping_documentation"]))
    # The replaced PDFs leave storage after the commit.
    [job_args] = jobs
    assert sorted(job_args) == sorted(old_keys)
    delete_objects(tuple(job_args))
    storage = get_storage()
    assert all(storage.head(key) is None for key in old_keys)
    assert storage.head(upload.storage_key) is not None


def test_prepare_refuses_a_dispute_whose_evidence_is_sent(db, shipped_order, make_dispute, staff):
    dispute = make_dispute(shipped_order, status="under_review", submitted_at=utcnow())

    with pytest.raises(ValidationError):
        evidence.prepare(dispute, staff)

    assert db.session.query(DisputeFile).count() == 0
