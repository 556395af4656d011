"""Evidence PDFs made from Covet's own records (fpdf2): receipt, emails to the customer, shipping, a policy.

Each builder reads the database only and returns (pdf bytes, pages). Times are UTC; money is formatted in the
order's currency. Text is drawn with DejaVu Sans when the machine has it (accents, €, most symbols and some
emoji), with a CJK font as a fallback when one is installed; characters no font can draw become "?" (the
evidence text fields sent to Stripe keep them exact). Without any TTF the core Helvetica font is used and
text is transliterated to Latin-1 ("€" → "EUR ", "ő" → "o"), so a fresh machine still makes its PDFs.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from flask import current_app
from fpdf import FPDF, FontFace
from jinja2 import TemplateError
from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.money import format_money
from covet.notifications.models import EmailOutbox
from covet.notifications.services import render_email
from covet.orders.carriers import carrier_label, tracking_url
from covet.orders.models import Order
from covet.payments.models import Payment, Refund

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu",
              "/usr/share/fonts/truetype", "/usr/local/share/fonts", "/Library/Fonts")
# Fonts with CJK glyphs, tried for what DejaVu lacks; (path, collection index) as Debian's packages install them.
_FALLBACK_FONTS = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
                   ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
                   ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0))
_ASCII_FOR = {"€": "EUR ", "—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "*",
              "→": "->", "×": "x", "\u00a0": " "}
POLICY_KINDS = {"refund": "Refund policy", "cancellation": "Cancellation policy", "shipping": "Shipping policy"}
MAX_ROWS = 500  # rows per source in one document: keeps a runaway order's PDF bounded


@lru_cache(maxsize=1)
def unicode_fonts() -> tuple[str | None, str | None, tuple[tuple[str, int], ...]]:
    """(regular, bold, fallbacks) font files found on this machine; (None, None, ()) when there are none."""
    def find(name: str) -> str | None:
        return next((str(Path(d) / name) for d in _FONT_DIRS if (Path(d) / name).is_file()), None)

    regular = find("DejaVuSans.ttf")
    if regular is None:
        return None, None, ()
    return regular, find("DejaVuSans-Bold.ttf"), tuple(f for f in _FALLBACK_FONTS if Path(f[0]).is_file())


def to_latin1(text: str) -> str:
    """What the core fonts can draw: Latin-1 kept, a few symbols spelled out, accents dropped, the rest '?'."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        elif char in _ASCII_FOR:
            out.append(_ASCII_FOR[char])
        else:
            base = unicodedata.normalize("NFKD", char)[0]
            out.append(base if ord(base) < 256 and not unicodedata.combining(base) else "?")
    return "".join(out)


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def format_address(address: dict | None) -> str:
    """A shipping address as lines: name, street, postcode and city, country."""
    address = address or {}
    town = " ".join(filter(None, (address.get("postal_code"), address.get("city"))))
    if address.get("state"):
        town = f"{town}, {address['state']}" if town else address["state"]
    parts = (address.get("name"), address.get("line1"), address.get("line2"), town, address.get("country"))
    return "\n".join(str(part) for part in parts if part)


class EvidencePDF(FPDF):
    """An A4 evidence document: a title, sections of label/value pairs, tables and text; 'page N of M' below."""

    def __init__(self, title: str, subtitle: str = ""):
        super().__init__(format="A4")
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=16)
        self.family, self._drawable = self._load_fonts()
        self.doc_title = self.clean(title)
        self.set_title(self.doc_title)
        self.set_creator("Covet")
        self.add_page()
        self.set_font(self.family, "B", 15)
        self.multi_cell(0, 8, self.doc_title, align="L", new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            self.set_font(self.family, "", 9)
            self.set_text_color(90)
            self.multi_cell(0, 4.5, self.clean(subtitle), align="L", new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0)
        self.ln(2)

    def _load_fonts(self) -> tuple[str, frozenset[int] | None]:
        regular, bold, fallbacks = unicode_fonts()
        if regular is None:
            return "helvetica", None
        self.add_font("body", "", regular)
        self.add_font("body", "B", bold or regular)
        drawable = set(self.fonts["body"].cmap)
        names = []
        for number, (path, index) in enumerate(fallbacks):
            self.add_font(f"fallback{number}", "", path, collection_font_number=index)
            drawable |= set(self.fonts[f"fallback{number}"].cmap)
            names.append(f"fallback{number}")
        if names:
            self.set_fallback_fonts(names, exact_match=False)
        return "body", frozenset(drawable)

    def clean(self, text) -> str:
        """The text as this document's fonts can draw it."""
        text = "" if text is None else str(text)
        if self._drawable is None:
            return to_latin1(text)
        return "".join(c if c in "\n\t" or ord(c) in self._drawable else "?" for c in text)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7.5)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.doc_title} · page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font(self.family, "B", 11)
        self.multi_cell(0, 6, self.clean(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(200)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)

    def pairs(self, rows: Iterable[tuple]) -> None:
        """Label / value rows; a third item makes the value a link."""
        for label, value, *link in rows:
            self.set_font(self.family, "B", 9)
            self.cell(42, 5, self.clean(label))
            self.set_font(self.family, "", 9)
            self.multi_cell(0, 5, self.clean(value if value not in (None, "") else "—"), align="L",
                            link=link[0] if link and link[0] else None, new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, size: float = 9) -> None:
        """Left-aligned text, wrapped here a word at a time: fpdf2's multi_cell measures every character, which
        made thirty emails' bodies most of a packet's time."""
        self.set_font(self.family, "", size)
        for line in self._wrap(self.clean(text), self.epw - 2 * self.c_margin):
            self.cell(0, size / 2, line, new_x="LMARGIN", new_y="NEXT")

    def _wrap(self, text: str, width: float) -> list[str]:
        """Lines of at most `width`, broken at spaces (kept where they lead a line), long words cut."""
        widths: dict[str, float] = {}

        def measure(word: str) -> float:
            if word not in widths:
                widths[word] = self.get_string_width(word)
            return widths[word]

        space, lines = measure(" "), []
        for source in text.split("\n"):
            words = [piece for word in source.split(" ") for piece in _cut(word, width, measure)]
            line, used = words[0], measure(words[0])
            for word in words[1:]:
                step = space + measure(word)
                if used + step <= width:
                    line, used = f"{line} {word}", used + step
                else:
                    lines.append(line)
                    line, used = word, measure(word)
            lines.append(line)
        return lines

    def grid(self, headings: tuple[str, ...], rows: Iterable[tuple], widths: tuple[int, ...],
             aligns: tuple[str, ...] | None = None) -> None:
        """A table whose heading row repeats on each page it runs onto."""
        self.set_font(self.family, "", 8.5)
        with self.table(col_widths=widths, text_align=aligns or "LEFT", line_height=4.6, padding=1,
                        borders_layout="HORIZONTAL_LINES", headings_style=FontFace(emphasis="BOLD")) as table:
            for row in (headings, *rows):
                cells = table.row()
                for value in row:
                    cells.cell(self.clean(value))
        self.ln(1)

    def finish(self) -> tuple[bytes, int]:
        return bytes(self.output()), self.pages_count


def _cut(word: str, width: float, measure) -> list[str]:
    """A word wider than the line (a long URL) in pieces that fit; any other word as it is."""
    pieces = []
    while len(word) > 1 and measure(word) > width:
        fits = max((n for n in range(1, len(word)) if measure(word[:n]) <= width), default=1)
        pieces.append(word[:fits])
        word = word[fits:]
    return [*pieces, word]


def payments_of(order: Order) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.order_id == order.id)
                                   .order_by(Payment.created_at, Payment.id).limit(MAX_ROWS)))


def refunds_of(order: Order) -> list[Refund]:
    return list(db.session.scalars(select(Refund).where(Refund.order_id == order.id)
                                   .order_by(Refund.created_at, Refund.id).limit(MAX_ROWS)))


def customer_emails(order: Order) -> list[EmailOutbox]:
    """Emails Covet delivered to the order's customer about it, oldest first (staff and store mail excluded)."""
    rows = db.session.scalars(select(EmailOutbox).where(EmailOutbox.order_id == order.id,
                                                        EmailOutbox.status == "sent")
                              .order_by(EmailOutbox.sent_at, EmailOutbox.id).limit(MAX_ROWS))
    customer = (order.email or "").strip().lower()
    return [row for row in rows if row.recipient.strip().lower() == customer]


def _store_names(order: Order) -> str:
    return ", ".join(dict.fromkeys(line.store.name for line in order.lines)) or "—"


def receipt_pdf(order: Order) -> tuple[bytes, int]:
    """The order as the customer saw it: lines, prices, shipping and tax, total, payment, customer, address.

    Covet keeps no discounts and no billing address, so none are shown."""
    def money(amount: int) -> str:
        return format_money(amount, order.currency)

    pdf = EvidencePDF(f"Receipt — order {order.number}",
                      f"Placed on Covet on {when(order.created_at)}. Sold by {_store_names(order)}.")
    pdf.heading("Order")
    pdf.pairs([("Order number", order.number), ("Placed", when(order.created_at)), ("Paid", when(order.paid_at)),
               ("Payment status", order.payment_status.replace("_", " ")),
               ("Fulfilment", order.fulfilment_status), ("Currency", order.currency.upper())])
    pdf.heading("Customer")
    pdf.pairs([("Name", order.customer_name), ("Email", order.email),
               ("Shipping address", format_address(order.shipping_address))])
    pdf.heading("Items")
    pdf.grid(("Item", "SKU", "Sold by", "Qty", "Unit price", "Line total"),
             [(item_name(line), line.sku, line.store.name, str(line.quantity), money(line.unit_price_amount),
               money(line.total_amount)) for line in order.lines[:MAX_ROWS]],
             (36, 16, 16, 6, 13, 13), ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"))
    totals = [("Subtotal", money(order.subtotal_amount)), ("Shipping", money(order.shipping_amount)),
              ("Tax", money(order.tax_amount)), ("Total charged", money(order.total_amount))]
    if order.refunded_amount:
        totals.append(("Refunded", money(order.refunded_amount)))
    pdf.pairs(totals)
    _payment_section(pdf, order, money)
    return pdf.finish()


def item_name(line) -> str:
    return f"{line.product_title} ({line.variant_title})" if line.variant_title not in ("", "Default") \
        else line.product_title


def _payment_section(pdf: EvidencePDF, order: Order, money) -> None:
    pdf.heading("Payment")
    payments = payments_of(order)
    if not payments:
        pdf.paragraph("No payment is recorded for this order.")
    for payment in payments:
        pdf.pairs([("Amount", money(payment.amount)), ("Status", payment.status), ("Date", when(payment.created_at)),
                   ("Method", "Card, through Stripe Checkout"), ("Stripe charge", payment.charge_id),
                   ("Stripe PaymentIntent", payment.payment_intent_id)])
    refunds = refunds_of(order)
    if refunds:
        pdf.heading("Refunds")
        pdf.grid(("Date", "Amount", "Status", "Reason"),
                 [(when(r.created_at), money(r.amount), r.status, r.reason or "—") for r in refunds],
                 (14, 10, 8, 30), ("LEFT", "RIGHT", "LEFT", "LEFT"))


def rendered_email(row: EmailOutbox) -> tuple[str, str]:
    """(subject, plain-text body) of an outbox email, rendered from its stored context as delivery renders it."""
    try:
        subject, _, text = render_email(row.template, row.context or {})
    except (TemplateError, KeyError) as exc:  # a template since removed or changed beyond its stored context
        return row.template.replace("_", " ").capitalize(), f"(The body could not be rendered again: {exc}.)"
    return subject, text


def communication_pdf(order: Order) -> tuple[bytes, int]:
    """Every email Covet sent the customer about the order: when, to whom, subject and the text as sent."""
    emails = customer_emails(order)
    sender = current_app.config.get("EMAIL_FROM") or "Covet"
    pdf = EvidencePDF(f"Emails to the customer — order {order.number}",
                      f"{len(emails)} email{'s' if len(emails) != 1 else ''} Covet delivered to {order.email} "
                      f"about this order, oldest first, from Covet's email outbox.")
    if not emails:
        pdf.paragraph("Covet has no record of an email delivered to the customer about this order.")
    for number, row in enumerate(emails, 1):
        subject, text = rendered_email(row)
        pdf.heading(f"{number}. {subject}")
        pdf.pairs([("Sent", when(row.sent_at)), ("From", sender), ("To", row.recipient), ("Subject", subject)])
        pdf.ln(1)
        pdf.paragraph(text.strip(), size=8.5)
    return pdf.finish()


def shipping_pdf(order: Order) -> tuple[bytes, int]:
    """The order's shipments: carrier, tracking number and link, date, address, items, and what Covet knows
    happened to each (shipped, customer told); the carrier's own scans are behind the tracking link."""
    lines = {line.id: line for line in order.lines}
    shipments = sorted(order.fulfilments, key=lambda f: (f.shipped_at, f.id))[:MAX_ROWS]
    notices = [row for row in customer_emails(order) if row.template == "shipping_notification"]
    address = format_address(order.shipping_address)
    pdf = EvidencePDF(f"Shipping — order {order.number}",
                      f"{len(shipments)} shipment{'s' if len(shipments) != 1 else ''} recorded in Covet for "
                      f"{order.customer_name or order.email}. Times are UTC.")
    pdf.pairs([("Customer", f"{order.customer_name} <{order.email}>".strip()), ("Ship to", address)])
    if not shipments:
        pdf.paragraph("No shipment has been recorded for this order.")
    for number, shipment in enumerate(shipments, 1):
        link = shipment.tracking_url or tracking_url(shipment.carrier, shipment.tracking_number)
        pdf.heading(f"Shipment {number} — {shipment.store.name if shipment.store else 'store'}")
        pdf.pairs([("Carrier", carrier_label(shipment.carrier)), ("Tracking number", shipment.tracking_number),
                   ("Tracking link", link, link), ("Shipped", when(shipment.shipped_at)), ("Shipped to", address)])
        pdf.grid(("SKU", "Item", "Qty"),
                 [(lines[i.order_line_id].sku if i.order_line_id in lines else "—",
                   item_name(lines[i.order_line_id]) if i.order_line_id in lines else "—", str(i.quantity))
                  for i in shipment.lines], (16, 40, 6), ("LEFT", "LEFT", "RIGHT"))
        events = [(when(shipment.shipped_at), f"Handed to {carrier_label(shipment.carrier)} by the store")]
        events += [(when(row.sent_at), f"Shipping notification emailed to {row.recipient}") for row in notices
                   if (row.context or {}).get("tracking_number") == shipment.tracking_number]
        pdf.grid(("When", "Event"), events, (16, 46))
    unshipped = [line for line in order.lines if line.quantity_fulfilled < line.quantity - line.quantity_refunded]
    if unshipped:
        pdf.heading("Not shipped")
        pdf.grid(("SKU", "Item", "Qty"), [(line.sku, item_name(line), str(line.quantity - line.quantity_fulfilled
                                                                        - line.quantity_refunded))
                                          for line in unshipped], (16, 40, 6), ("LEFT", "LEFT", "RIGHT"))
    return pdf.finish()


def policy_pdf(stores, kind: str, order: Order | None = None) -> tuple[bytes, int]:
    """One policy (refund, cancellation or shipping) of each store, as the store set it in Covet."""
    label = POLICY_KINDS[kind]
    stores = list(stores) if isinstance(stores, list | tuple) else [stores]
    title = f"{label} — order {order.number}" if order is not None else label
    pdf = EvidencePDF(title, f"As each store published it in Covet; read {when(utcnow())}.")
    for store in stores:
        pdf.heading(store.name)
        pdf.paragraph(getattr(store, f"{kind}_policy") or "This store has not written one.")
    return pdf.finish()
