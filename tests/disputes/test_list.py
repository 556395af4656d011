"""The dispute list: deadline order, tabs, filters in the URL, keyset pages, store scope; nav, queue, dashboard."""
from __future__ import annotations

import datetime as dt
import re

from covet.audit.services import Actor
from covet.disputes import queries
from covet.extensions import db


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="dispute-row-(\d+)"', html)]


def test_soonest_deadline_first_with_words_and_countdown(client, login_as, make_order, make_dispute):
    later = make_dispute(make_order(), due_in=dt.timedelta(days=9), reason="fraudulent")
    sooner = make_dispute(make_order(), due_in=dt.timedelta(hours=20), reason="product_not_received")
    make_dispute(make_order(), status="won", due_in=dt.timedelta(days=-5))
    login_as("staff")
    html = client.get("/admin/disputes/").text
    assert row_ids(html) == [sooner.id, later.id]  # the default tab: needs a response
    assert "Product not received" in html and "product_not_received</td>" not in html
    assert re.search(r'countdown-bad"[^>]*data-countdown[^>]*>\s*\d+ h \d+ min left', html)  # red under 24 h
    assert "9 d 2" in html or "8 d 23" in html


def test_tabs_count_under_the_other_filters(client, login_as, make_order, make_dispute, stores):
    lune, noor = stores
    make_dispute(make_order(stores=[lune]))
    make_dispute(make_order(stores=[noor]))
    make_dispute(make_order(stores=[lune]), status="under_review")
    make_dispute(make_order(stores=[lune]), status="lost", due_in=dt.timedelta(days=-9))
    login_as("staff")
    html = client.get(f"/admin/disputes/?store={lune.id}").text
    counts = dict(re.findall(r'id="dispute-tab-(\w+)".*?data-count="(\d+)"', html, re.S))
    assert counts == {"needs_response": "1", "under_review": "1", "won": "0", "lost": "1", "all": "3"}


def test_filters_in_the_url_and_refusals(client, login_as, make_order, make_dispute, make_user):
    agent = make_user("staff", email="ana@covet.test")
    fraud = make_dispute(make_order(), reason="fraudulent", assignee_id=agent.id)
    make_dispute(make_order(), reason="duplicate")
    soon = make_dispute(make_order(), reason="duplicate", due_in=dt.timedelta(days=1))
    login_as("staff")
    assert row_ids(client.get("/admin/disputes/?reason=fraudulent").text) == [fraud.id]
    assert row_ids(client.get(f"/admin/disputes/?assignee={agent.id}").text) == [fraud.id]
    assert fraud.id not in row_ids(client.get("/admin/disputes/?assignee=unassigned").text)
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert row_ids(client.get(f"/admin/disputes/?due_before={tomorrow}").text) == [soon.id]
    bad = client.get("/admin/disputes/?due_before=31/12&reason=nope&store=x")
    assert bad.status_code == 422 and row_ids(bad.text) == []
    assert "Enter a date as YYYY-MM-DD." in bad.text and "Unknown reason." in bad.text


def test_keyset_pages_cover_every_row_once(app, make_order, make_dispute, make_user):
    order = make_order()
    made = [make_dispute(order, due_in=dt.timedelta(days=n % 4, hours=1)).id for n in range(7)]
    made.append(make_dispute(order, due_in=None).id)  # no deadline: last
    actor = Actor.for_user(make_user("staff"))
    filters, seen = queries.parse_filters({"tab": "all"}), []
    while True:
        page = queries.dispute_page(filters, actor, per=3)
        seen += [row.id for row in page.rows]
        if not page.next_after:
            break
        filters = queries.parse_filters({"tab": "all", "after": page.next_after})
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) and seen[-1] == made[-1]
    assert queries.dispute_page(queries.parse_filters({"tab": "all", "after": "garbage!"}), actor).rows


def test_merchant_sees_only_disputes_on_orders_with_their_lines(client, login_as, make_order, make_dispute, stores):
    lune, noor = stores
    mine = make_dispute(make_order(stores=[lune, noor]))
    theirs = make_dispute(make_order(stores=[noor]))
    login_as("merchant", store=lune)
    html = client.get("/admin/disputes/").text
    assert row_ids(html) == [mine.id]
    assert 'name="store"' not in html and 'name="assignee"' not in html  # no other stores, no staff filters
    assert client.get(f"/admin/disputes/{theirs.id}").status_code == 404
    assert client.get(f"/admin/disputes/{mine.id}").status_code == 200
    assert re.search(r'Disputes <span class="nav-count"[^>]*>1<', client.get("/admin/").text)


def test_htmx_answers_the_list_with_tabs_out_of_band(client, login_as, make_order, make_dispute, htmx_headers):
    make_dispute(make_order(), status="under_review")
    login_as("staff")
    response = client.get("/admin/disputes/?tab=under_review", headers=htmx_headers)
    assert response.status_code == 200 and "<html" not in response.text
    assert 'id="dispute-list"' in response.text and 'id="dispute-tabs" aria-label="Dispute views" hx-swap-oob="true"' \
        in response.text
    assert response.headers["HX-Push-Url"] == "/admin/disputes/?tab=under_review"


def test_queue_row_flag_and_dashboard_link(client, login_as, make_order, make_dispute):
    disputed = make_order()
    make_order()
    dispute = make_dispute(disputed, due_in=dt.timedelta(days=2))
    late = make_dispute(make_order(), due_in=dt.timedelta(hours=-2))
    login_as("staff")
    queue = client.get("/admin/orders/").text
    row = queue[queue.index(f'id="order-row-{disputed.id}"'):]
    assert "badge-dispute" in row[:row.index("</tr>")]
    assert queue.count("badge-dispute") == 2
    home = client.get("/admin/").text
    assert f'href="/admin/disputes/{dispute.id}"' in home
    assert f'id="dashboard-past-due-{late.id}"' in home
    listing = client.get("/admin/disputes/").text
    assert f'id="past-due-{late.id}"' in listing
    db.session.rollback()
