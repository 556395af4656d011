"""Template previews for admins, the unsubscribe link, dispute reminders."""
import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from covet.catalog.models import Product
from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.disputes.services import send_deadline_reminders
from covet.notifications.catalog import TEMPLATES
from covet.notifications.models import EmailOutbox
from covet.notifications.services import render_email
from covet.orders.models import Order, OrderLine
from covet.storefront.models import PriceAlert


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_admin_previews_each_template(client, login_as, name):
    login_as("admin")
    page = client.get(f"/admin/emails/{name}/preview")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'src="/admin/emails/{name}/preview.html"' in body and 'id="preview-text"' in body
    html = client.get(f"/admin/emails/{name}/preview.html")
    assert html.status_code == 200 and "<html" in html.get_data(as_text=True)
    assert "script-src" not in html.headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_previews_are_admin_only(client, login_as):
    login_as("staff")
    assert client.get("/admin/emails/").status_code == 403
    assert client.get("/admin/emails/order_confirmation/preview.html").status_code == 403


def test_every_template_renders_with_only_its_required_context(app):
    for spec in TEMPLATES.values():
        subject, html, text = render_email(spec.name, {k: spec.demo[k] for k in spec.required})
        assert subject and "<html" in html and text.strip()


def _alert(db, make_store):
    store = make_store("noor", currency="usd")
    product = Product(store_id=store.id, title="Leather Tote", slug="leather-tote", status="active")
    db.session.add(product)
    db.session.flush()
    alert = PriceAlert(email="amara@example.com", product_id=product.id, price_when_subscribed=89000,
                       currency="usd")
    db.session.add(alert)
    db.session.commit()
    return alert


def test_unsubscribe_link_from_the_email_works(app, db, client, make_store):
    alert = _alert(db, make_store)
    unsubscribe_url = f"/alerts/unsubscribe/{alert.unsubscribe_token}"
    context = {**TEMPLATES["price_drop_alert"].demo, "unsubscribe_url": unsubscribe_url}
    _subject, html, text = render_email("price_drop_alert", context)
    link = re.search(r"http://127\.0\.0\.1:5000(/alerts/unsubscribe/[\w-]+)", text).group(1)
    assert link in html
    page = client.get(link)
    assert page.status_code == 200 and "Stop this price alert?" in page.get_data(as_text=True)
    done = client.post(link)  # also what a mail client's one-click unsubscribe sends
    assert done.status_code == 200 and "unsubscribed" in done.get_data(as_text=True)
    db.session.refresh(alert)
    assert alert.unsubscribed_at is not None
    assert client.post(link).status_code == 200  # repeating is harmless


def test_unknown_unsubscribe_token_is_404(client):
    assert client.get("/alerts/unsubscribe/not-a-token").status_code == 404


def test_dispute_reminders_go_once_per_window(app, db, make_store, make_user):
    store = make_store("lune", support_email="care@lune.test")
    merchant = make_user("merchant", store=store)
    staff = make_user("staff")
    make_user("merchant")  # another store's merchant hears nothing
    order = Order(number="CV-7", email="c@example.com", currency="eur", total_amount=5000,
                  lines=[OrderLine(store_id=store.id, product_title="Wrap", sku="W-1", unit_price_amount=5000,
                                   quantity=1)])
    db.session.add(order)
    db.session.flush()
    now = utcnow()
    db.session.add(Dispute(stripe_dispute_id="dp_1", charge_id="ch_1", order_id=order.id, amount=5000,
                           currency="eur", reason="fraudulent", status="needs_response",
                           evidence_due_by=now + dt.timedelta(hours=60)))
    db.session.commit()

    assert send_deadline_reminders(now) == 3
    recipients = set(db.session.scalars(select(EmailOutbox.recipient)))
    assert recipients == {merchant.email, staff.email, "care@lune.test"}
    assert send_deadline_reminders(now + dt.timedelta(hours=1)) == 3  # same window: nothing new queued
    assert db.session.scalar(select(func.count()).select_from(EmailOutbox)) == 3
    send_deadline_reminders(now + dt.timedelta(hours=40))  # inside 24 h now: a second reminder each
    assert db.session.scalar(select(func.count()).select_from(EmailOutbox)) == 6
    contexts = db.session.scalars(select(EmailOutbox.context)).all()
    assert all(c["reminder"] is True and c["order_number"] == "CV-7" for c in contexts)
