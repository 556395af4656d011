"""Helpers for the evidence tests: shipments and delivered emails on an order, PDFs read back as text."""
from __future__ import annotations

import datetime as dt
import io
import itertools

from fpdf import FPDF
from pypdf import PdfReader

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.notifications.models import EmailOutbox
from covet.orders.models import Fulfilment, FulfilmentLine, Order
from covet.payments.services import confirmation_context

_keys = itertools.count(1)


def ship(order: Order, carrier="dhl", tracking="JD014600006281", shipped_at=None, lines=None) -> Fulfilment:
    """A shipment of the given lines (default: all) of the order, from the first line's store."""
    chosen = lines or order.lines
    fulfilment = Fulfilment(order_id=order.id, store_id=chosen[0].store_id, carrier=carrier, tracking_number=tracking,
                            shipped_at=shipped_at or utcnow() - dt.timedelta(days=2))
    fulfilment.lines = [FulfilmentLine(order_line_id=line.id, quantity=line.quantity) for line in chosen]
    for line in chosen:
        line.quantity_fulfilled = line.quantity
    db.session.add(fulfilment)
    db.session.commit()
    return fulfilment


def sent_email(order: Order, template="order_confirmation", context=None, sent_at=None, recipient=None,
               status="sent") -> EmailOutbox:
    """An outbox row as delivery leaves it: sent (by default) to the order's customer."""
    if context is None:
        context = confirmation_context(order) if template == "order_confirmation" else {}
    at = sent_at or utcnow() - dt.timedelta(days=3)
    row = EmailOutbox(template=template, recipient=recipient or order.email, context=context,
                      idempotency_key=f"test-email-{next(_keys)}", status=status, attempts=1, created_at=at,
                      sent_at=at if status == "sent" else None, order_id=order.id)
    db.session.add(row)
    db.session.commit()
    return row


def shipping_context(order: Order, fulfilment: Fulfilment) -> dict:
    return {"order_number": order.number, "customer_name": order.customer_name, "carrier": "DHL",
            "tracking_number": fulfilment.tracking_number, "lines": [line.email_line() for line in order.lines],
            "tracking_url": "https://www.dhl.com/track?n=" + (fulfilment.tracking_number or "")}


def pdf_text(data: bytes) -> str:
    """All the text of a PDF, pages joined."""
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def make_pdf(pages: int) -> bytes:
    """A plain PDF of `pages` pages, made by fpdf2."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(pages):
        pdf.add_page()
        pdf.cell(text=f"Page {number + 1}")
    return bytes(pdf.output())


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" \
      b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
