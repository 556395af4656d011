"""The queue over HTTP: full page and fragments, filters in the URL, jumps, polling, take next, presets, bulk."""
import re

from sqlalchemy import event, func, select

from covet.audit.models import AuditLog
from covet.extensions import db
from covet.orders.models import Order, OrderFilterPreset, OrderTag
from tests.conftest import csrf_from
from tests.orders.conftest import hours_ago


def _row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="order-row-(\d+)"', html)]


def test_full_page_and_fragment(client, login_as, make_order, htmx_headers):
    login_as("staff")
    order = make_order()
    page = client.get("/admin/orders/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and 'id="keyboard-hint"' in html
    assert _row_ids(html) == [order.id] and "HX-Request" in page.headers["Vary"]
    fragment = client.get("/admin/orders/?payment=paid", headers=htmx_headers).get_data(as_text=True)
    assert "<html" not in fragment and 'id="order-list"' in fragment
    assert 'id="order-tabs" aria-label="Order views" hx-swap-oob="true"' in fragment  # counts follow the filters


def test_filters_are_applied_and_kept_in_links(client, login_as, make_order):
    login_as("staff")
    paid = make_order(created_at=hours_ago(1))
    make_order(payment_status="unpaid")
    html = client.get("/admin/orders/?payment=paid&sort=oldest&per=25").get_data(as_text=True)
    assert _row_ids(html) == [paid.id]
    assert 'value="paid" selected' in html and 'id="bulk-query" value="payment=paid&amp;sort=oldest&amp;per=25"' in html


def test_bad_filters_answer_422_with_the_message(client, login_as, make_order):
    login_as("staff")
    make_order()
    response = client.get("/admin/orders/?from=yesterday")
    assert response.status_code == 422
    assert "Use a date like 2026-11-30." in response.get_data(as_text=True)


def test_exact_number_jumps_to_the_order(client, login_as, make_order, htmx_headers):
    login_as("staff")
    order = make_order(number="CV-JUMP01")
    plain = client.get("/admin/orders/?q=cv-jump01")
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/admin/orders/{order.id}")
    htmx = client.get("/admin/orders/?q=CV-JUMP01", headers=htmx_headers)
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == f"/admin/orders/{order.id}"


def test_merchant_sees_only_their_orders(client, login_as, stores, make_order):
    lune, noor = stores
    login_as("merchant", store=lune)
    mine = make_order(stores=[lune, noor])
    make_order(stores=[noor])
    db.session.add(OrderTag(order_id=mine.id, tag="fraud-review"))
    db.session.commit()
    html = client.get("/admin/orders/").get_data(as_text=True)
    assert _row_ids(html) == [mine.id] and "fraud-review" not in html  # staff's tags stay with staff
    assert "Take next" not in html and 'id="tab-unassigned"' not in html and "NOOR-BAG-1" not in html


def test_new_orders_bar_then_insert(client, login_as, make_order, htmx_headers):
    login_as("staff")
    first = make_order(created_at=hours_ago(1))
    quiet = client.get(f"/admin/orders/new?since={first.id}", headers=htmx_headers).get_data(as_text=True)
    assert 'id="new-orders"' in quiet and "new order" not in quiet
    newer = make_order()
    bar = client.get(f"/admin/orders/new?since={first.id}", headers=htmx_headers).get_data(as_text=True)
    assert "1 new order — show" in bar
    inserted = client.get(f"/admin/orders/since?since={first.id}", headers=htmx_headers).get_data(as_text=True)
    assert _row_ids(inserted) == [newer.id]
    assert f"since={newer.id}" in inserted and 'hx-swap-oob="true"' in inserted  # the bar starts again from here


def _csrf(client):
    return csrf_from(client.get("/admin/orders/").get_data(as_text=True))


def test_take_next_assigns_the_oldest_waiting_order(client, login_as, make_order, htmx_headers):
    staff = login_as("staff")
    make_order(payment_status="unpaid", created_at=hours_ago(9))
    oldest = make_order(created_at=hours_ago(5))
    make_order(created_at=hours_ago(1))
    token = _csrf(client)
    response = client.post("/admin/orders/take-next", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/orders/{oldest.id}")
    assert db.session.get(Order, oldest.id).assignee_id == staff.id
    htmx = client.post("/admin/orders/take-next", headers=htmx_headers | {"X-CSRFToken": token})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] != f"/admin/orders/{oldest.id}"
    nothing = client.post("/admin/orders/take-next", headers=htmx_headers | {"X-CSRFToken": token})
    assert nothing.status_code == 204 and "Nothing is waiting" in nothing.headers["HX-Trigger"]


def test_take_next_needs_csrf_and_staff(client, login_as, stores):
    login_as("staff")
    assert client.post("/admin/orders/take-next").status_code == 400
    client.post("/admin/logout", data={"csrf_token": _csrf(client)})
    login_as("merchant", store=stores[0])
    assert client.post("/admin/orders/take-next", data={"csrf_token": _csrf(client)}).status_code == 403


def test_presets_are_saved_per_user_and_listed(client, login_as, make_order):
    user = login_as("staff")
    token = _csrf(client)
    response = client.post("/admin/orders/presets", data={"csrf_token": token, "name": "Paid, to ship",
                                                          "query": "payment=paid&fulfilment=unfulfilled&bogus=1"})
    assert response.status_code == 303
    preset = db.session.scalar(select(OrderFilterPreset).where(OrderFilterPreset.user_id == user.id))
    assert preset.query == "payment=paid&fulfilment=unfulfilled"
    html = client.get("/admin/orders/").get_data(as_text=True)
    assert "Paid, to ship" in html and "?payment=paid&amp;fulfilment=unfulfilled" in html
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "order_preset.saved")) == 1
    empty = client.post("/admin/orders/presets", data={"csrf_token": token, "name": " ", "query": ""})
    assert empty.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(OrderFilterPreset)) == 1


def test_bulk_tag_on_everything_matching_the_filter(client, login_as, make_order, htmx_headers):
    login_as("staff")
    paid = [make_order() for _ in range(3)]
    unpaid = make_order(payment_status="unpaid")
    token = _csrf(client)
    response = client.post("/admin/orders/bulk", headers=htmx_headers | {"X-CSRFToken": token},
                           data={"action": "tag", "tag": "gift", "scope": "all", "query": "payment=paid"})
    assert response.status_code == 200 and "3 orders tagged." in response.headers["HX-Trigger"]
    tagged = set(db.session.scalars(select(OrderTag.order_id).where(OrderTag.tag == "gift")))
    assert tagged == {o.id for o in paid} and unpaid.id not in tagged


def test_bulk_on_ticked_orders_ignores_orders_the_user_cannot_see(client, login_as, stores, make_order):
    lune, noor = stores
    login_as("merchant", store=lune)
    mine, other = make_order(stores=[lune]), make_order(stores=[noor])
    token = _csrf(client)
    response = client.post("/admin/orders/bulk", data={"csrf_token": token, "action": "fulfil", "scope": "selected",
                                                       "order_ids": [mine.id, other.id], "query": ""})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, mine.id).fulfilment_status == "fulfilled"
    assert db.session.get(Order, other.id).fulfilment_status == "unfulfilled"
    assert client.post("/admin/orders/bulk", data={"csrf_token": token, "action": "tag", "tag": "x",
                                                   "order_ids": [mine.id]}).status_code == 403


def test_the_queue_page_runs_a_bounded_number_of_statements(make_user, make_order, app):
    from tests.conftest import login

    def signed_in():
        browser = app.test_client()
        assert login(browser, make_user("staff").email).status_code == 303
        return browser

    def count(per, browser):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert browser.get(f"/admin/orders/?per={per}").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    for i in range(60):
        order = make_order(quantity=1 + i % 2)
        db.session.add(OrderTag(order_id=order.id, tag="vip"))
    db.session.commit()
    first, second = signed_in(), signed_in()
    small = count(25, first)  # counts the tabs
    large = count(50, second)  # someone else: their counts are not remembered yet either
    assert small == large and large <= 12
    # Within ten seconds the same person's tab counts, and the nav's open-dispute figure, are remembered.
    assert count(50, second) == large - 2


def test_a_filtered_fragment_refreshes_the_presets_bar_and_pushes_a_clean_url(client, login_as, make_order,
                                                                              htmx_headers):
    login_as("staff")
    make_order()
    response = client.get("/admin/orders/?q=&state=&payment=paid&sort=newest&per=50", headers=htmx_headers)
    html = response.get_data(as_text=True)
    assert response.headers["HX-Push-Url"] == "/admin/orders/?payment=paid"
    assert 'id="preset-query" value="payment=paid" hx-swap-oob="true"' in html  # Save preset saves these filters
    assert 'id="bulk-query" value="payment=paid" hx-swap-oob="true"' in html  # "every order matching" means these
    assert re.search(r'<span id="clear-filters" hx-swap-oob="true"><a href="/admin/orders/">Clear filters</a>', html)


def test_export_of_ticked_orders_over_http(app, client, login_as, stores, make_order, make_user):
    from tests.catalog.test_csv import run_jobs

    lune, noor = stores
    login_as("merchant", store=lune)
    mine, other = make_order(number="CV-EXP1", stores=[lune, noor]), make_order(number="CV-EXP2", stores=[noor])
    response = client.post("/admin/orders/bulk", data={"csrf_token": _csrf(client), "action": "export",
                                                       "scope": "selected", "order_ids": [mine.id, other.id]})
    assert response.status_code == 303 and "/admin/jobs/" in response.headers["Location"]
    run_jobs(app)
    progress = client.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/admin/orders/exports/[^"]+\.csv)"', progress)
    assert link, progress[-1500:]
    csv_text = client.get(link.group(1)).get_data(as_text=True)
    assert "CV-EXP1" in csv_text and "CV-EXP2" not in csv_text and "NOOR-BAG-1" not in csv_text
    client.post("/admin/logout", data={"csrf_token": _csrf(client)})
    login_as("merchant", store=lune)  # another user of the same store cannot fetch my file
    assert client.get(link.group(1)).status_code == 404


def test_assign_to_me_from_a_stale_row_never_takes_a_colleagues_order(client, login_as, make_order, make_user,
                                                                     htmx_headers):
    me = login_as("staff")
    colleague = make_user("staff", name="Camille")
    order = make_order()
    token = _csrf(client)  # the queue showed the order unassigned…
    db.session.get(Order, order.id).assignee_id = colleague.id  # …then Camille took it
    db.session.commit()
    form = {"assignee": "me", "context": "row", "expected_assignee": "", "next": "/admin/orders/"}
    response = client.post(f"/admin/orders/{order.id}/assign", data=form, headers=htmx_headers | {"X-CSRFToken": token})
    assert response.status_code == 422 and "was just taken by Camille" in response.headers["HX-Trigger"]
    html = response.get_data(as_text=True)
    assert f'id="order-row-{order.id}"' in html and "Camille" in html and "Take over" in html
    db.session.expire_all()
    assert db.session.get(Order, order.id).assignee_id == colleague.id
    form["expected_assignee"] = str(colleague.id)  # "Take over", knowing it is Camille's
    taken = client.post(f"/admin/orders/{order.id}/assign", data=form, headers=htmx_headers | {"X-CSRFToken": token})
    assert taken.status_code == 200
    db.session.expire_all()
    assert db.session.get(Order, order.id).assignee_id == me.id


def test_mark_fulfilled_on_everything_matching_runs_as_a_job_once(app, client, login_as, make_order):
    from covet.orders.models import Fulfilment
    from tests.catalog.test_csv import run_jobs

    login_as("staff")
    paid = [make_order() for _ in range(3)]
    unpaid = make_order(payment_status="unpaid")
    form = {"csrf_token": _csrf(client), "action": "fulfil", "scope": "all", "query": "", "idempotency_key": "k" * 32}
    response = client.post("/admin/orders/bulk", data=form)
    assert response.status_code == 303 and "/admin/jobs/" in response.headers["Location"]
    run_jobs(app)
    progress = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 marked fulfilled, 1 refused" in progress
    db.session.expire_all()
    assert {db.session.get(Order, o.id).fulfilment_status for o in paid} == {"fulfilled"}
    assert db.session.get(Order, unpaid.id).fulfilment_status == "unfulfilled"
    shipments = db.session.scalar(select(func.count()).select_from(Fulfilment))
    client.post("/admin/orders/bulk", data=form)  # the same form again (a retry): nothing ships twice
    run_jobs(app)
    assert db.session.scalar(select(func.count()).select_from(Fulfilment)) == shipments == 6  # 3 orders × 2 stores
