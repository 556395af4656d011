"""Evidence PDFs: what each one says, read back from the PDF itself."""
from __future__ import annotations

import datetime as dt
import io

from pypdf import PdfReader

from covet.dbtypes import utcnow
from covet.disputes import documents
from covet.orders.models import OrderLine
from tests.disputes.evidence_support import pdf_pages, pdf_text, sent_email, ship, shipping_context


def test_receipt_shows_the_order_as_the_customer_saw_it(db, make_order, stores):
    order = make_order()
    order.shipping_amount, order.tax_amount, order.total_amount = 1200, 3000, 54200
    order.shipping_address = {"name": "Olivia Martin", "line1": "12 Rue de la Paix", "city": "Paris",
                              "postal_code": "75002", "country": "FR"}
    order.created_at = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    db.session.commit()

    data, pages = documents.receipt_pdf(order)

    assert data.startswith(b"%PDF-") and pages == pdf_pages(data) == 1
    text = pdf_text(data)
    assert f"Receipt — order {order.number}" in text
    assert "2026-11-20 09:30 UTC" in text
    for sku in ("LUNE-BAG-1", "NOOR-BAG-1"):
        assert sku in text
    assert "Lune" in text and "Noor" in text
    assert "€250.00" in text and "€12.00" in text and "€30.00" in text and "€542.00" in text
    assert order.email in text and "12 Rue de la Paix" in text and "75002 Paris" in text
    assert "ch_test_" in text and "Card, through Stripe Checkout" in text


def test_receipt_draws_accents_euro_and_emoji_and_never_crashes_on_cjk(db, make_order):
    order = make_order()
    order.customer_name = "Zoë Müller 山田太郎 😀"
    order.shipping_address = {"line1": "Königstraße 5", "city": "Köln", "country": "DE"}
    db.session.commit()

    data, _ = documents.receipt_pdf(order)

    text = pdf_text(data)
    assert "Zoë Müller" in text and "Königstraße 5" in text and "€500.00" in text
    # DejaVu has no CJK: without a CJK font installed those characters are drawn as "?".
    assert "山田太郎" in text or "????" in text


def test_without_a_unicode_font_text_is_transliterated_to_latin1(db, make_order, monkeypatch):
    monkeypatch.setattr(documents, "unicode_fonts", lambda: (None, None, ()))
    order = make_order()
    order.customer_name = "Zoë Dvořák 山田"
    db.session.commit()

    data, pages = documents.receipt_pdf(order)

    text = pdf_text(data)
    assert pages == 1
    assert "EUR 500.00" in text and "€" not in text
    assert "Zoë Dvorák ??" in text  # á is Latin-1, ř is not


def test_a_long_receipt_runs_onto_more_pages_with_page_numbers(db, make_order, variants, stores):
    order = make_order(stores=[stores[0]])
    for n in range(70):
        order.lines.append(OrderLine(store_id=stores[0].id, product_title=f"Scarf {n}", variant_title="Blue",
                                     sku=f"SCARF-{n:03d}", unit_price_amount=1000, quantity=1))
    db.session.commit()

    data, pages = documents.receipt_pdf(order)

    assert pages >= 2 and pdf_pages(data) == pages
    text = pdf_text(data)
    assert "SCARF-000" in text and "SCARF-069" in text
    assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text


def test_communication_holds_each_email_sent_to_the_customer_with_its_date_and_text(db, make_order):
    order = make_order()
    shipment = ship(order)
    first = sent_email(order, sent_at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    sent_email(order, "shipping_notification", shipping_context(order, shipment),
               sent_at=dt.datetime(2026, 11, 22, 8, 15, tzinfo=dt.UTC))
    sent_email(order, "dispute_opened", {"order_number": order.number, "amount": 50000, "currency": "eur",
                                         "reason": "fraudulent", "evidence_due_by": "", "dispute_url": "/x"},
               recipient="staff@covet.test")  # internal mail is not communication with the customer
    sent_email(order, "order_cancelled", {}, status="failed")  # never delivered

    data, pages = documents.communication_pdf(order)

    text = pdf_text(data)
    assert f"2 emails Covet delivered to {order.email}" in text
    assert f"Your Covet order {order.number} is confirmed" in text
    assert f"Your Covet order {order.number} is on its way" in text
    assert "2026-11-20 10:00 UTC" in text and "2026-11-22 08:15 UTC" in text
    assert "thank you for shopping with Covet" in text  # the body, as delivery renders it
    assert shipment.tracking_number in text
    assert "staff@covet.test" not in text and "cancelled" not in text
    assert text.index("is confirmed") < text.index("is on its way")
    assert first.recipient == order.email and pages >= 1


def test_communication_with_no_email_says_so(db, make_order):
    text = pdf_text(documents.communication_pdf(make_order())[0])

    assert "0 emails" in text and "no record of an email" in text


def test_shipping_lists_shipments_tracking_links_items_and_events(db, make_order, stores):
    order = make_order()
    order.shipping_address = {"line1": "12 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}
    db.session.commit()
    lune_line = next(line for line in order.lines if line.store_id == stores[0].id)
    shipment = ship(order, carrier="dhl", tracking="JD0146000999", lines=[lune_line],
                    shipped_at=dt.datetime(2026, 11, 21, 14, 5, tzinfo=dt.UTC))
    sent_email(order, "shipping_notification", shipping_context(order, shipment),
               sent_at=dt.datetime(2026, 11, 21, 14, 6, tzinfo=dt.UTC))

    data, _ = documents.shipping_pdf(order)

    text = pdf_text(data)
    assert "Shipment 1 — Lune" in text and "DHL" in text and "JD0146000999" in text
    assert "2026-11-21 14:05 UTC" in text and "75002 Paris" in text and "LUNE-BAG-1" in text
    assert "Shipping notification emailed to" in text and "2026-11-21 14:06 UTC" in text
    assert "Not shipped" in text and "NOOR-BAG-1" in text
    links = [annot.get_object()["/A"]["/URI"] for page in PdfReader(io.BytesIO(data)).pages
             for annot in page.get("/Annots", [])]
    assert any("dhl.com" in link and "JD0146000999" in link for link in links)


def test_policy_pdf_quotes_each_store_and_says_when_one_has_none(db, stores, make_order):
    lune, noor = stores
    lune.refund_policy = "Returns within 30 days of delivery, unworn, with tags."
    db.session.commit()

    data, pages = documents.policy_pdf([lune, noor], "refund", make_order())

    text = pdf_text(data)
    assert pages == 1 and "Refund policy — order" in text
    assert "Returns within 30 days of delivery" in text
    assert "Noor" in text and "This store has not written one." in text


def test_to_latin1_and_address_and_times():
    assert documents.to_latin1("€5 — “ok” ő 山") == 'EUR 5 - "ok" o ?'
    assert documents.format_address({"name": "A", "line1": "1 Rd", "postal_code": "N1", "city": "London",
                                     "state": "", "country": "GB"}) == "A\n1 Rd\nN1 London\nGB"
    assert documents.when(dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)) == "2026-01-02 03:04 UTC"
    assert documents.when(None) == "—"
    assert utcnow().tzinfo is not None


def test_paragraphs_wrap_within_the_page_keeping_every_word_and_leading_spaces(app):
    pdf = documents.EvidencePDF("Wrap")
    pdf.set_font(pdf.family, "", 9)
    text = "  indented line\n" + " ".join(f"word{n}" for n in range(300)) + "\nhttps://example.test/" + "x" * 300
    width = pdf.epw - 2 * pdf.c_margin

    lines = pdf._wrap(text, width)

    assert lines[0] == "  indented line"
    assert all(pdf.get_string_width(line) <= width + 0.01 for line in lines)
    url_at = next(n for n, line in enumerate(lines) if line.startswith("https://"))
    assert " ".join(lines[1:url_at]).split() == [f"word{n}" for n in range(300)]
    assert len(lines) - url_at >= 2 and "".join(lines[url_at:]) == "https://example.test/" + "x" * 300
