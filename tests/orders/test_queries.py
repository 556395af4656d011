"""The queue's questions: filters, search, keyset pages, capped counts, new orders — without HTTP."""
import datetime as dt

import pytest
from sqlalchemy import event

from covet.extensions import db
from covet.orders import queries
from covet.orders.filters import SORTS, filters_from_query, parse_filters
from covet.orders.models import OrderTag
from tests.orders.conftest import hours_ago


def _ids(filters, actor):
    return [row.id for row in queries.queue_page(filters, actor).rows]


def f(**args):
    return parse_filters({k: str(v) for k, v in args.items()})


def test_filters_by_status_store_tag_assignee_amount_and_date(stores, make_order, staff_actor, make_user):
    lune, noor = stores
    colleague = make_user("staff")
    paid_lune = make_order(stores=[lune], created_at=hours_ago(1))
    unpaid_noor = make_order(payment_status="unpaid", stores=[noor], created_at=hours_ago(2))
    shipped = make_order(fulfilment_status="fulfilled", created_at=hours_ago(3), quantity=3)
    mine = make_order(assignee=db.session.get(type(colleague), staff_actor.user_id), created_at=hours_ago(4))
    theirs = make_order(assignee=colleague, created_at=dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC))
    db.session.add(OrderTag(order_id=unpaid_noor.id, tag="vip"))
    db.session.commit()

    assert _ids(f(payment="unpaid"), staff_actor) == [unpaid_noor.id]
    assert _ids(f(payment="paid", fulfilment="fulfilled"), staff_actor) == [shipped.id]
    assert set(_ids(f(store=noor.id), staff_actor)) == {unpaid_noor.id, shipped.id, mine.id, theirs.id}
    assert _ids(f(tag="VIP"), staff_actor) == [unpaid_noor.id]
    assert _ids(f(assignee="mine"), staff_actor) == [mine.id]
    assert _ids(f(assignee=colleague.id), staff_actor) == [theirs.id]
    assert set(_ids(f(assignee="unassigned"), staff_actor)) == {paid_lune.id, unpaid_noor.id, shipped.id}
    assert _ids(f(min="1000", max="1600"), staff_actor) == [shipped.id]  # 3 × 2 lines × €250 = €1,500
    assert _ids(f(**{"from": "2026-01-01", "to": "2026-01-31"}), staff_actor) == [theirs.id]
    assert _ids(f(view="to_fulfil"), staff_actor) == [paid_lune.id, mine.id, theirs.id]
    assert _ids(f(view="unassigned"), staff_actor) == [paid_lune.id]


def test_bad_filter_values_are_reported_not_guessed():
    filters = f(**{"from": "30/11/2026", "min": "ten", "to": "2026-01-01"}, payment="bogus")
    assert set(filters.errors) == {"from", "min"}
    assert filters.payment == ""
    assert f(**{"from": "2026-02-01", "to": "2026-01-01"}).errors == {"to": "The end date is before the start date."}


def test_search_by_email_prefix_and_sku_prefix(stores, make_order, staff_actor):
    lune, noor = stores
    olivia = make_order(email="Olivia.Martin@example.test", stores=[lune])
    make_order(email="oscar@example.test", stores=[lune])
    noor_order = make_order(stores=[noor])
    assert _ids(f(q="olivia.mar"), staff_actor) == [olivia.id]
    assert _ids(f(q="OLIVIA.MARTIN@EXAMPLE.TEST"), staff_actor) == [olivia.id]
    assert _ids(f(q="noor-bag"), staff_actor) == [noor_order.id]  # SKU NOOR-BAG-1, typed in lower case
    assert _ids(f(q="100%"), staff_actor) == []  # LIKE wildcards are literal


def test_exact_order_number_is_found_for_a_jump(stores, make_order, staff_actor, merchant_of):
    lune, noor = stores
    order = make_order(number="CV-ABC123", stores=[noor])
    assert queries.order_by_number("cv-abc123", staff_actor) == order.id
    assert queries.order_by_number("CV-ABC12", staff_actor) is None
    assert queries.order_by_number("CV-ABC123", merchant_of(lune)) is None  # not theirs: no hint it exists


def test_keyset_pages_cover_every_order_once_in_each_sort(make_order, staff_actor):
    orders = [make_order(created_at=hours_ago(i % 7), quantity=1 + i % 3) for i in range(23)]
    for sort in SORTS:
        seen, filters = [], f(sort=sort, per=25)
        filters.per = 5
        while True:
            page = queries.queue_page(filters, staff_actor)
            seen += [row.id for row in page.rows]
            if not page.next_after:
                break
            filters.after = page.next_after
        assert sorted(seen) == sorted(o.id for o in orders), sort
        assert len(seen) == len(set(seen))


def test_a_forged_cursor_is_ignored(make_order, staff_actor):
    make_order()
    assert len(_ids(f(after="not-a-cursor"), staff_actor)) == 1


def test_merchant_sees_only_their_orders_and_their_lines_total(stores, make_order, merchant_of):
    lune, noor = stores
    both = make_order(quantity=2)
    make_order(stores=[noor])
    merchant = merchant_of(lune)
    rows = queries.queue_page(f(store=noor.id), merchant).rows  # the store filter cannot widen the scope
    assert [r.id for r in rows] == [both.id]
    assert rows[0].total == 2 * 25000 and rows[0].stores == ["Lune"] and rows[0].skus == ["LUNE-BAG-1"]
    assert "unassigned" not in queries.tab_counts(merchant)


def test_tab_counts_are_capped(monkeypatch, make_order, staff_actor):
    for _ in range(4):
        make_order()
    make_order(payment_status="unpaid")
    counts = queries.tab_counts(staff_actor)
    assert counts["all"] == 5 and counts["to_fulfil"] == 4 and counts["unpaid"] == 1 and counts["mine"] == 0
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    assert queries.tab_counts(staff_actor)["all"] == 3  # cap + 1: shown as "2+"


def test_new_orders_since_the_newest_on_screen(make_order, staff_actor):
    make_order(created_at=hours_ago(2))
    page = queries.queue_page(f(), staff_actor)
    assert queries.new_since(f(), staff_actor, page.newest_id) == 0
    newer = make_order()
    make_order(payment_status="unpaid")
    assert queries.new_since(f(), staff_actor, page.newest_id) == 2
    assert queries.new_since(f(payment="paid"), staff_actor, page.newest_id) == 1
    inserted = queries.rows_since(f(payment="paid"), staff_actor, page.newest_id)
    assert [r.id for r in inserted.rows] == [newer.id] and inserted.newest_id == newer.id


def test_matching_ids_and_saved_query_round_trip(make_order, staff_actor):
    paid = [make_order() for _ in range(3)]
    make_order(payment_status="unpaid")
    saved = f(payment="paid", sort="oldest").query_string()
    assert queries.matching_order_ids(filters_from_query(saved), staff_actor) == [o.id for o in paid]


@pytest.mark.parametrize("orders", [3, 40])
def test_a_page_costs_the_same_statements_whatever_its_size(orders, make_order, staff_actor, app):
    for i in range(orders):
        order = make_order(quantity=1 + i % 2)
        db.session.add(OrderTag(order_id=order.id, tag=f"t{i % 3}"))
    db.session.commit()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        page = queries.queue_page(f(per=50), staff_actor)
        queries.tab_counts(staff_actor)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(page.rows) == orders
    assert len(statements) == 5, statements  # orders, lines, open disputes, tags, counts


def test_merchants_search_and_sort_only_by_what_is_theirs(stores, make_order, merchant_of):
    lune, noor = stores
    shared = make_order(stores=[lune, noor])
    other = make_order(stores=[noor])
    merchant = merchant_of(lune)
    assert _ids(f(q="NOOR-BAG"), merchant) == []  # another store's SKU on a shared order is not searchable
    assert _ids(f(q="LUNE-BAG"), merchant) == [shared.id]
    assert _ids(f(min="600"), merchant) == [shared.id]  # whole-order amounts are not a merchant's filter
    assert queries.queue_rows([shared.id, other.id], merchant)[0].id == shared.id
    assert [r.id for r in queries.queue_rows([other.id], merchant)] == []  # ticked ids are user input


def test_odd_digits_and_non_finite_amounts_are_refused_not_crashed():
    filters = f(store="²", assignee="²", per="²", min="inf", max="nan")
    assert filters.store_id is None and filters.assignee == "" and filters.per == 50
    assert set(filters.errors) == {"min", "max"}
