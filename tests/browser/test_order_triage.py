"""Order triage in Debian's Chromium: staff filter the queue, take the next order, ship part of it (the customer's
email reaches a real SMTP sink), refund part of it (through localstripe), by mouse, by keyboard and without
JavaScript; a merchant sees only their store's part. Email jobs run on the in-process thread (embedded mode) or
through a real RQ worker burst (REDIS_URL set)."""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass

import pytest
import stripe
from playwright.sync_api import expect
from rq import Queue, SimpleWorker
from sqlalchemy import select, update
from werkzeug.serving import make_server

from covet.jobs.embedded import wait_for_embedded_jobs
from covet.orders.models import Order
from covet.payments.models import Payment
from covet.redis_client import get_redis
from tests.browser.test_admin_shell import SHOTS, _sign_in
from tests.conftest import REDIS_URL, build_app
from tests.notifications import conftest as notification_fixtures
from tests.orders import conftest as order_fixtures
from tests.orders.conftest import hours_ago
from tests.stripe_peers import set_stripe_config

# Shared fixtures, taken by name (an import would be redefined by the test arguments).
smtp_sink = notification_fixtures.smtp_sink
stores, variants, make_order = order_fixtures.stores, order_fixtures.variants, order_fixtures.make_order

TRACKING = "1Z999AA10123456784"
UPS_LINK = f"https://www.ups.com/track?tracknum={TRACKING}"


def _shot(page, name):
    """COVET_SCREENSHOTS=/tmp keeps /tmp/triage-<name>.png. The caret stays: hiding it injects a <style> that the
    page's CSP refuses, and that refusal would land in page.console_errors."""
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"triage-{name}.png"), full_page=True, caret="initial")


@dataclass
class Served:
    base_url: str
    app: object
    sink: notification_fixtures.SinkHandler

    def deliver_emails(self) -> None:
        """Run the email jobs the served app queued: one RQ burst with Redis, else wait for the job thread."""
        if REDIS_URL:
            with self.app.app_context():
                SimpleWorker([Queue("high", connection=get_redis())], connection=get_redis()).work(burst=True)
        else:
            wait_for_embedded_jobs()


@pytest.fixture
def served(app, database_url, tmp_path, smtp_sink, fresh_localstripe, request):
    """The app on loopback, sending email to the SMTP sink and refunds to localstripe."""
    if REDIS_URL:
        request.getfixturevalue("redis_conn")  # RQ's keys cleared before and after
    served_app = build_app(database_url, tmp_path / "served", SMTP_URL=smtp_sink.url,
                           EMAIL_FROM="Covet <shop@covet.test>")
    set_stripe_config(served_app, fresh_localstripe)
    server = make_server("127.0.0.1", 0, served_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{server.server_port}", served_app, smtp_sink)
    server.shutdown()
    thread.join(timeout=10)
    wait_for_embedded_jobs()
    with served_app.app_context():
        from covet.extensions import db

        db.engine.dispose()


@pytest.fixture
def paid_on_stripe(db, fresh_localstripe):
    """paid_on_stripe(order): its payment becomes a PaymentIntent localstripe charged, so it can be refunded."""
    client = stripe.StripeClient("sk_test_covet_peer", base_addresses={"api": fresh_localstripe})

    def pay(order: Order) -> str:
        intent = client.v1.payment_intents.create(params={"amount": order.total_amount, "currency": "eur",
                                                          "payment_method": "pm_card_visa", "confirm": True})
        db.session.execute(update(Payment).where(Payment.order_id == order.id)
                           .values(payment_intent_id=intent.id, charge_id=None))
        db.session.commit()
        return intent.id
    pay.client = client
    return pay


@pytest.fixture
def triage(make_user, make_order, stores, paid_on_stripe):
    """A staff member, a colleague, and four orders, oldest first: unpaid (Lune), paid but the colleague's (Noor),
    paid and waiting (Lune and Noor, 2 of each: the one Take next gives), paid and newer (Noor)."""
    lune, noor = stores
    me = make_user("staff", name="Sam Triage", email="sam@covet.test")
    colleague = make_user("staff", name="Ana Colleague")
    unpaid = make_order(payment_status="unpaid", stores=[lune], created_at=hours_ago(5))
    theirs = make_order(stores=[noor], created_at=hours_ago(4), assignee=colleague)
    oldest = make_order(stores=[lune, noor], quantity=2, created_at=hours_ago(3), email="olivia@example.test")
    newer = make_order(stores=[noor], created_at=hours_ago(1))
    paid_on_stripe(oldest)
    return {"me": me, "lune": lune, "noor": noor, "unpaid": unpaid, "theirs": theirs, "oldest": oldest,
            "newer": newer, "lune_line": next(line for line in oldest.lines if line.store_id == lune.id)}


def _count(page, tab: str):
    return page.locator(f"#tab-{tab} .count")


def _signed_in(page, served, user):
    _sign_in(page, served.base_url, user.email)
    expect(page.locator("#signed-in-as")).to_have_text(user.email)


def test_staff_filter_take_next_ship_email_and_refund(served, page_factory, triage, paid_on_stripe, db):
    me, lune, oldest, line = triage["me"], triage["lune"], triage["oldest"], triage["lune_line"]
    page = page_factory()
    _signed_in(page, served, me)
    page.goto(f"{served.base_url}/admin/orders/")
    rows = page.locator("#order-rows > tr[id^='order-row-']")
    expect(rows).to_have_count(4)
    for tab, count in (("all", "4"), ("to_fulfil", "3"), ("unassigned", "2"), ("mine", "0"), ("unpaid", "1")):
        expect(_count(page, tab)).to_have_text(count)
    _shot(page, "queue")

    # Filter: the select alone sends the form (htmx), the URL follows, the unpaid order leaves the list.
    page.evaluate("window.__sameDocument = true")
    page.select_option("#order-filters select[name=payment]", "paid")
    expect(page).to_have_url(re.compile(r"/admin/orders/\?(.*&)?payment=paid"))
    expect(page.locator(f"#order-row-{triage['unpaid'].id}")).to_have_count(0)
    expect(rows).to_have_count(3)
    expect(_count(page, "all")).to_have_text("4")  # the tabs still count every order
    expect(_count(page, "unpaid")).to_have_text("1")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, not a reload
    _shot(page, "queue-paid")

    # Take next skips the unpaid order and the colleague's: the oldest paid, unassigned one is mine.
    page.click("#take-next")
    expect(page).to_have_url(f"{served.base_url}/admin/orders/{oldest.id}")
    expect(page.locator(".flash-success")).to_have_text(f"{oldest.number} is yours.")
    expect(page.locator("#order-number")).to_have_text(f"Order {oldest.number}")
    expect(page.locator("#assignee")).to_have_value("me")
    _shot(page, "taken")

    # Ship 1 of Lune's 2 units with UPS: the shipment shows with its tracking link, the order is partial.
    form = page.locator(f"#fulfil-{lune.id}")
    form.locator("select[name=carrier]").select_option("ups")
    form.locator("input[name=tracking_number]").fill(TRACKING)
    form.locator(f"input[name=quantity-{line.id}]").fill("1")
    form.locator("button[type=submit]").click()
    expect(page.locator(".toast", has_text="Shipped 1 item; the customer gets the tracking email.")).to_be_visible()
    shipment = page.locator("#order-fulfilments tbody tr")
    expect(shipment).to_have_count(1)
    expect(shipment).to_contain_text("Lune")
    expect(shipment).to_contain_text("UPS")
    expect(shipment).to_contain_text(f"{line.sku} × 1")
    expect(shipment.locator("a", has_text=TRACKING)).to_have_attribute("href", UPS_LINK)
    expect(page.locator("#order-header .order-badges")).to_contain_text("partial")
    expect(page.locator(f"#line-{line.id} td.num").nth(1)).to_have_text("1")  # Shipped column
    # One unit of Lune's line is still to ship: its form stays, offering 1.
    expect(page.locator(f"#fulfil-{lune.id} input[name=quantity-{line.id}]")).to_have_value("1")
    _shot(page, "shipped")

    # The customer's shipping email reaches the SMTP server, with the order and tracking numbers.
    served.deliver_emails()
    [sent] = [m for m in served.sink.messages if oldest.number in m["message"]["Subject"]]
    assert sent["to"] == ["olivia@example.test"]
    assert sent["message"]["Subject"] == f"Your Covet order {oldest.number} is on its way"
    text = sent["message"].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert f"Order {oldest.number}" in text and f"Tracking number: {TRACKING}" in text and UPS_LINK in text
    assert re.search(r"^- Lune Bag.* x 1$", text, re.M) and "Noor Bag" not in text  # this shipment only

    # A partial refund through Stripe: listed, the refundable amount drops, the payment is partially refunded.
    refund = page.locator("#refund")
    expect(refund).to_contain_text("Up to €1,000.00 can be refunded")
    refund.locator("input[name=amount]").fill("50.00")
    refund.locator("input[name=reason]").fill("Scuffed strap")
    refund.locator("button[type=submit]").click()
    expect(page.locator(".toast", has_text="€50.00 refunded.")).to_be_visible()
    refunded = page.locator("#order-refunds tbody tr")
    expect(refunded).to_have_count(1)
    expect(refunded).to_contain_text("€50.00")
    expect(refunded).to_contain_text("Scuffed strap")
    expect(refunded).to_contain_text("succeeded")
    expect(page.locator("#refund")).to_contain_text("Up to €950.00 can be refunded")
    expect(page.locator("#refund input[name=amount]")).to_have_value("")  # never prefilled: a refund is typed
    expect(page.locator("#refund input[name=amount]")).to_have_attribute("placeholder", "950.00")
    expect(page.locator("#order-header .order-badges")).to_contain_text("partially refunded")
    expect(page.locator("#order-header .order-total")).to_contain_text("€50.00 refunded")
    intent = db.session.scalar(select(Payment.payment_intent_id).where(Payment.order_id == oldest.id))
    [on_stripe] = paid_on_stripe.client.v1.refunds.list(params={"payment_intent": intent}).data
    assert on_stripe.amount == 5000

    # The timeline tells the whole story, newest first.
    timeline = page.locator("#order-timeline")
    expect(timeline.locator("li[data-kind=refund]")).to_contain_text("Refund €50.00")
    expect(timeline.locator("li[data-kind=email]")).to_contain_text("Email: Shipping notification")
    expect(timeline.locator("li[data-kind=email]")).to_contain_text("to olivia@example.test")
    expect(timeline.locator("li[data-kind=fulfilment]")).to_contain_text("Shipped by Lune")
    expect(timeline.locator("li[data-kind=fulfilment]")).to_contain_text(f"UPS {TRACKING}")
    assigned = timeline.locator("li[data-kind=audit]", has_text="Assigned")
    expect(assigned).to_contain_text(f"assignee: — → {me.email}")
    kinds = timeline.locator("li").evaluate_all("items => items.map(item => item.dataset.kind)")
    assert kinds.index("refund") < kinds.index("email") < kinds.index("fulfilment") < kinds.index("audit")
    _shot(page, "refunded")
    assert page.console_errors == []


def test_keyboard_triage_on_the_queue(served, page_factory, make_user, make_order):
    me = make_user("staff", name="Kim Keys")
    older = [make_order(created_at=hours_ago(3 - n), email=f"jo{n}@example.test") for n in range(2)]
    newest = make_order(created_at=hours_ago(0.5), email="max@example.test")
    ids = [newest.id, older[1].id, older[0].id]  # as listed, newest first
    page = page_factory()
    _signed_in(page, served, me)
    queue = f"{served.base_url}/admin/orders/"
    page.goto(queue)
    expect(page.locator("#keyboard-hint")).to_be_visible()
    expect(page.locator("#keyboard-hint")).to_contain_text("a assign to me")
    current = page.locator("#order-rows > tr.is-current")
    expect(current).to_have_count(0)

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(current).to_have_attribute("id", f"order-row-{ids[1]}")
    page.keyboard.press("k")
    expect(current).to_have_attribute("id", f"order-row-{ids[0]}")
    expect(page.locator("#order-rows > tr[aria-selected=true]")).to_have_count(1)
    expect(page.locator(f"#order-row-{ids[0]}")).to_have_attribute("aria-selected", "true")

    # "/" goes to the search box; there "j" is a letter, not a move. The search for "j" leaves max's order out.
    search = page.locator("#order-search")
    page.evaluate("document.getElementById('order-list').dataset.before = 'search'")
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.press("j")
    expect(search).to_have_value("j")
    expect(current).to_have_attribute("id", f"order-row-{ids[0]}")  # not moved to the next row
    expect(page.locator("#order-list[data-before]")).to_have_count(0)  # the search ran: a new list
    expect(page).to_have_url(re.compile(r"[?&]q=j(&|$)"))
    expect(page.locator("#order-rows > tr[id^='order-row-']")).to_have_count(2)
    expect(search).to_be_focused()
    _shot(page, "keyboard-search")
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()

    # "a" assigns the current row to me: the row comes back with my name, the counts move; Enter opens it.
    page.goto(queue)
    page.keyboard.press("j")
    expect(current).to_have_attribute("id", f"order-row-{ids[0]}")
    expect(_count(page, "mine")).to_have_text("0")
    expect(_count(page, "unassigned")).to_have_text("3")
    page.keyboard.press("a")
    row = page.locator(f"#order-row-{ids[0]}")
    expect(row.locator("td.assignee")).to_have_text("Kim Keys")
    expect(row.locator("button[data-assign-me]")).to_have_count(0)
    expect(_count(page, "mine")).to_have_text("1")
    expect(_count(page, "unassigned")).to_have_text("2")
    expect(current).to_have_attribute("id", f"order-row-{ids[0]}")  # still the current row
    expect(page.locator(".toast", has_text=f"{newest.number} is yours.")).to_be_visible()
    _shot(page, "keyboard-assigned")

    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{served.base_url}/admin/orders/{ids[0]}")
    expect(page.locator("#assignee")).to_have_value("me")
    assert page.console_errors == []


def _search_for(page, text):
    """Type into the search box after "/" and wait until the list it asks for has replaced the old one."""
    page.evaluate("document.getElementById('order-list').dataset.before = 'search'")
    page.keyboard.press("/")
    page.keyboard.type(text)
    expect(page.locator("#order-list[data-before]")).to_have_count(0)


def test_typing_in_search_keeps_the_cursor_when_the_list_refreshes(served, page_factory, make_user, make_order):
    order = make_order(email="joanna@example.test")
    page = page_factory()
    _signed_in(page, served, make_user("staff"))
    page.goto(f"{served.base_url}/admin/orders/")
    page.keyboard.press("j")  # a current row, as in the middle of triage
    current = page.locator("#order-rows > tr.is-current")
    expect(current).to_have_attribute("id", f"order-row-{order.id}")
    _search_for(page, "jo")
    expect(current).to_have_attribute("id", f"order-row-{order.id}")  # the new list's row is chosen again
    expect(page.locator("#order-search")).to_be_focused(timeout=2_000)
    page.keyboard.type("a")  # the user goes on typing "joanna"
    expect(page.locator("#order-search")).to_have_value("joa")
    expect(page.locator(f"#order-row-{order.id} td.assignee")).to_have_text("—")


def test_escape_leaves_the_search_box_with_the_search_kept(served, page_factory, make_user, make_order):
    make_order(email="joanna@example.test")
    page = page_factory()
    _signed_in(page, served, make_user("staff"))
    page.goto(f"{served.base_url}/admin/orders/")
    _search_for(page, "jo")
    expect(page).to_have_url(re.compile(r"[?&]q=jo(&|$)"))
    search = page.locator("#order-search")
    expect(search).to_be_focused()
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()
    expect(search).to_have_value("jo", timeout=2_000)


def test_the_same_triage_without_javascript(served, page_factory, triage):
    me, lune, oldest, line = triage["me"], triage["lune"], triage["oldest"], triage["lune_line"]
    page = page_factory(javascript=False)
    _signed_in(page, served, me)
    page.goto(f"{served.base_url}/admin/orders/")
    page.select_option("#order-filters select[name=payment]", "paid")
    page.click("#order-filters button:has-text('Apply')")
    expect(page).to_have_url(re.compile(r"/admin/orders/\?(.*&)?payment=paid"))
    expect(page.locator(f"#order-row-{triage['unpaid'].id}")).to_have_count(0)
    expect(page.locator("#order-rows > tr[id^='order-row-']")).to_have_count(3)
    expect(_count(page, "unassigned")).to_have_text("2")

    page.click("#take-next")  # a plain POST, 303 to the order
    expect(page).to_have_url(f"{served.base_url}/admin/orders/{oldest.id}")
    expect(page.locator(".flash-success")).to_have_text(f"{oldest.number} is yours.")

    # Refused: UPS without a tracking number; the page says why and keeps what was typed.
    form = page.locator(f"#fulfil-{lune.id}")
    form.locator("select[name=carrier]").select_option("ups")
    form.locator(f"input[name=quantity-{line.id}]").fill("1")
    form.locator("button[type=submit]").click()
    form = page.locator(f"#fulfil-{lune.id}")
    expect(form.locator("#error-tracking_number")).to_have_text("Enter the tracking number.")
    expect(form.locator("select[name=carrier]")).to_have_value("ups")
    expect(form.locator(f"input[name=quantity-{line.id}]")).to_have_value("1")
    expect(page.locator("#order-fulfilments")).to_have_count(0)
    _shot(page, "nojs-ship-refused")

    form.locator("input[name=tracking_number]").fill(TRACKING)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{served.base_url}/admin/orders/{oldest.id}#order-fulfilments")
    expect(page.locator(".flash-success")).to_have_text("Shipped 1 item; the customer gets the tracking email.")
    shipment = page.locator("#order-fulfilments tbody tr")
    expect(shipment).to_have_count(1)
    expect(shipment.locator("a", has_text=TRACKING)).to_have_attribute("href", UPS_LINK)
    expect(page.locator("#order-header .order-badges")).to_contain_text("partial")

    # Refused: more than is refundable; the message and the typed values stay.
    refund = page.locator("#refund")
    refund.locator("input[name=amount]").fill("9999.00")
    refund.locator("input[name=reason]").fill("Scuffed strap")
    refund.locator("button[type=submit]").click()
    refund = page.locator("#refund")
    expect(refund.locator("#error-amount")).to_have_text("At most €1,000.00 can be refunded.")
    expect(refund.locator("input[name=amount]")).to_have_value("9999.00")
    expect(refund.locator("input[name=reason]")).to_have_value("Scuffed strap")
    _shot(page, "nojs-refund-refused")

    refund.locator("input[name=amount]").fill("50.00")
    refund.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{served.base_url}/admin/orders/{oldest.id}#order-payments")
    expect(page.locator(".flash-success")).to_have_text("€50.00 refunded.")
    expect(page.locator("#order-refunds tbody tr")).to_contain_text("Scuffed strap")
    expect(page.locator("#refund")).to_contain_text("Up to €950.00 can be refunded")
    expect(page.locator("#order-header .order-badges")).to_contain_text("partially refunded")
    _shot(page, "nojs-refunded")


def test_merchant_sees_only_their_store(served, page_factory, make_user, make_order, stores):
    lune, noor = stores
    merchant = make_user("merchant", store=lune)
    both = make_order(stores=[lune, noor], quantity=2, created_at=hours_ago(2))
    other = make_order(stores=[noor], created_at=hours_ago(1))
    own_unpaid = make_order(payment_status="unpaid", stores=[lune])
    page = page_factory()
    _signed_in(page, served, merchant)
    page.goto(f"{served.base_url}/admin/orders/")
    rows = page.locator("#order-rows > tr[id^='order-row-']")
    expect(rows).to_have_count(2)
    expect(page.locator(f"#order-row-{other.id}")).to_have_count(0)
    expect(page.locator(f"#order-row-{own_unpaid.id}")).to_have_count(1)
    row = page.locator(f"#order-row-{both.id}")
    expect(row).to_contain_text("LUNE-BAG-1")
    expect(row).to_contain_text("€500.00")  # their two units, not the order's €1,000.00
    expect(page.locator("#order-table")).not_to_contain_text("Noor")
    expect(page.locator("#order-table")).not_to_contain_text("NOOR-BAG-1")
    expect(page.locator("#take-next")).to_have_count(0)
    expect(page.locator("button[data-assign-me]")).to_have_count(0)
    expect(page.locator("#tab-unassigned, #tab-mine")).to_have_count(0)
    expect(_count(page, "all")).to_have_text("2")
    expect(page.locator("#keyboard-hint")).not_to_contain_text("assign")
    _shot(page, "merchant-queue")

    page.click(f"#order-row-{both.id} a.order-link")
    expect(page).to_have_url(f"{served.base_url}/admin/orders/{both.id}")
    expect(page.locator(f"#store-lines-{lune.id} tr[id^='line-']")).to_have_count(1)
    expect(page.locator(f"#store-lines-{noor.id}")).to_have_count(0)
    expect(page.locator("#order-detail")).not_to_contain_text("NOOR-BAG-1")
    expect(page.locator("#order-header .order-total")).to_contain_text("Your lines")
    expect(page.locator("#order-total")).to_have_text("€500.00")
    expect(page.locator(f"#fulfil-{lune.id}")).to_have_count(1)
    expect(page.locator(f"#fulfil-{noor.id}")).to_have_count(0)
    for staff_only in ("#refund", "#cancel", "#assignment", "#order-payments"):
        expect(page.locator(staff_only)).to_have_count(0)
    _shot(page, "merchant-detail")
    assert page.console_errors == []

    assert page.goto(f"{served.base_url}/admin/orders/{other.id}").status == 404  # another store's order
