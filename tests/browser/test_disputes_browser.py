"""The dispute view in Debian's Chromium, against the local Stripe fake: the disputed order's banner → the dispute
→ prepare evidence → edit a field → upload a PDF → save draft → submit; the same without JavaScript; a merchant
adding a file and a note; a colleague's stale save answered 409 with the typed text kept."""
from __future__ import annotations

import threading

import pytest
from fpdf import FPDF
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from covet.disputes.models import Dispute, DisputeFile, DisputeNote
from covet.extensions import db
from tests.browser.test_admin_shell import _sign_in
from tests.conftest import build_app
from tests.disputes import conftest as dispute_fixtures
from tests.orders import conftest as order_fixtures

stores, variants, make_order = order_fixtures.stores, order_fixtures.variants, order_fixtures.make_order
make_dispute = dispute_fixtures.make_dispute


@pytest.fixture
def served(app, database_url, tmp_path, stripe_fake):
    """The app on loopback with Stripe pointed at the fake (the test's `app` shares its database)."""
    served_app = build_app(database_url, tmp_path / "served")
    stripe_fake.set_stripe_config(served_app)
    stripe_fake.set_stripe_config(app)
    server = make_server("127.0.0.1", 0, served_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    with served_app.app_context():
        db.engine.dispose()


@pytest.fixture
def disputed(stripe_fake, make_order, make_dispute):
    """A shipped-to-nobody order with a 'product not received' dispute both Covet and the fake know."""
    order = make_order()
    remote = stripe_fake.add_dispute(charge=f"ch_browser_{order.id}", amount=order.total_amount, currency="eur",
                                     reason="product_not_received")
    return make_dispute(order, stripe_dispute_id=remote["id"])


def tiny_pdf(path) -> str:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Certificate of authenticity")
    pdf.output(str(path))
    return str(path)


def upload(page, path: str, note: str) -> None:
    page.set_input_files("#upload-form input[name=file]", path)
    page.select_option("#upload-form select[name=evidence_field]", "uncategorized_file")
    page.fill("#upload-form input[name=note]", note)
    page.click("#upload-file")


def staff_flow(page, base, dispute, pdf_path, stripe_fake, javascript: bool) -> None:
    _sign_in(page, base, "staff@covet.test")
    page.goto(f"{base}/admin/orders/{dispute.order_id}")
    page.click(f"#dispute-banner-{dispute.id} a")
    expect(page).to_have_url(f"{base}/admin/disputes/{dispute.id}")
    page.click("#prepare-evidence")
    expect(page.locator("#evidence-files")).to_contain_text("receipt-")
    page.fill("#field-shipping_carrier", "DHL Express, signed for")
    upload(page, pdf_path, "Certificate of authenticity")
    expect(page.locator("#evidence-files")).to_contain_text("Certificate of authenticity")
    expect(page.locator("#field-shipping_carrier")).not_to_have_value("DHL Express, signed for")  # a new page
    page.fill("#field-shipping_carrier", "DHL Express, signed for")
    page.select_option("select[name=file-uncategorized_file]", label="certificate.pdf (1 p.)")
    page.click("#save-draft")
    expect(page.locator("#toasts .toast, .flash").last).to_contain_text("Draft saved and staged on Stripe")
    staged = stripe_fake.get("dispute", dispute.stripe_dispute_id)
    assert staged["status"] == "needs_response" and staged["evidence"]["shipping_carrier"] == "DHL Express, signed for"
    assert staged["evidence"]["uncategorized_file"] and staged["evidence"]["receipt"]
    page.check("#confirm-submit")
    page.click("#submit-evidence")
    expect(page.locator("#evidence-readonly")).to_contain_text("Submitted")
    sent = stripe_fake.get("dispute", dispute.stripe_dispute_id)
    assert sent["status"] == "under_review" and sent["evidence_details"]["submission_count"] == 1
    assert stripe_fake.file_contents[sent["evidence"]["uncategorized_file"]].startswith(b"%PDF")
    assert page.console_errors == [] if javascript else True


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_staff_answer_a_dispute_from_the_order(served, page_factory, make_user, disputed, stripe_fake, tmp_path,
                                               javascript):
    make_user("staff", email="staff@covet.test")
    page = page_factory(javascript=javascript)
    staff_flow(page, served, disputed, tiny_pdf(tmp_path / "certificate.pdf"), stripe_fake, javascript)
    posts = stripe_fake.requests_to("POST", f"/v1/disputes/{disputed.stripe_dispute_id}")
    assert [request.params["submit"] for request in posts] == ["false", "true"]


def test_merchant_adds_a_file_and_a_note_but_cannot_answer(served, page_factory, make_user, stores, disputed,
                                                           tmp_path, stripe_fake):
    lune, _ = stores
    make_user("merchant", store=lune, email="margot@lune.test")
    page = page_factory()
    _sign_in(page, served, "margot@lune.test")
    page.goto(f"{served}/admin/disputes/")
    page.click(f"#dispute-row-{disputed.id} a.order-link")
    expect(page.locator("#dispute-detail")).to_contain_text("left")
    assert page.locator("#prepare-evidence, #evidence-form, #dispute-accept").count() == 0
    upload(page, tiny_pdf(tmp_path / "delivery.pdf"), "Signed proof of delivery")
    expect(page.locator("#evidence-files")).to_contain_text("Signed proof of delivery")
    page.fill("#dispute-notes textarea[name=body]", "The customer collected it in store.")
    page.click("#dispute-notes button[type=submit]")
    expect(page.locator("#dispute-notes")).to_contain_text("collected it in store")
    db.session.expire_all()
    stored = db.session.scalar(select(DisputeFile).where(DisputeFile.dispute_id == disputed.id))
    assert stored.store_id == lune.id and stored.stripe_file_id is None  # kept in Covet until staff send it
    assert db.session.scalar(select(DisputeNote.store_id).where(DisputeNote.dispute_id == disputed.id)) == lune.id
    assert stripe_fake.requests_to("POST", f"/v1/disputes/{disputed.stripe_dispute_id}") == []
    assert page.console_errors == []


def test_a_colleagues_stale_save_is_refused_with_the_text_kept(served, page_factory, make_user, disputed,
                                                               stripe_fake):
    make_user("staff", email="staff@covet.test")
    make_user("staff", email="ana@covet.test")
    first, second = page_factory(), page_factory()
    for page, email in ((first, "staff@covet.test"), (second, "ana@covet.test")):
        _sign_in(page, served, email)
        page.goto(f"{served}/admin/disputes/{disputed.id}")
    first.fill("#field-shipping_carrier", "DHL")
    first.click("#save-draft")
    expect(first.locator("#toasts")).to_contain_text("Draft saved")
    second.fill("#field-shipping_carrier", "UPS Ground")
    second.click("#save-draft")
    expect(second.locator("#dispute-error")).to_contain_text("A colleague saved this dispute")
    expect(second.locator("#conflict-mine")).to_contain_text("UPS Ground")
    expect(second.locator("#field-shipping_carrier")).to_have_value("DHL")
    assert len(stripe_fake.requests_to("POST", f"/v1/disputes/{disputed.stripe_dispute_id}")) == 1
    db.session.expire_all()
    assert db.session.get(Dispute, disputed.id).evidence_draft["fields"]["shipping_carrier"] == "DHL"
