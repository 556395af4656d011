"""Orders CSV export: only what the exporting user may see, defused cells, streamed in batches, run as a job."""
import csv
import io

from rq import Queue, SimpleWorker

from covet.extensions import db
from covet.jobs import enqueue
from covet.jobs.progress import job_progress
from covet.media.storage import get_storage
from covet.orders import export
from covet.orders.export import COLUMNS, export_rows, write_orders_csv
from covet.orders.jobs import export_key, export_orders_csv
from covet.orders.models import Order
from covet.orders.services import set_tags
from tests.orders.conftest import hours_ago


def read_csv(user_id: int, token: str) -> list[dict]:
    data = get_storage().get(export_key(user_id, token))
    assert data.startswith("\ufeff".encode())  # spreadsheet apps read the accents right
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_staff_rows_have_every_column(make_order, make_user, staff_actor):
    colleague = make_user("staff")
    order = make_order(quantity=2, assignee=colleague, created_at=hours_ago(1))
    set_tags(order.id, staff_actor, add=["vip", "gift"])
    db.session.get(Order, order.id).refunded_amount = 1050
    db.session.commit()
    [row] = list(export_rows([order.id], staff_actor))
    order = db.session.get(Order, order.id)
    assert row == {"number": order.number, "created_at": order.created_at.isoformat(), "email": order.email,
                   "customer_name": order.customer_name, "currency": "EUR", "total": "1000.00", "refunded": "10.50",
                   "payment_status": "paid", "fulfilment_status": "unfulfilled", "state": "open",
                   "assignee": colleague.email, "tags": "gift; vip", "stores": "Lune; Noor",
                   "skus": "LUNE-BAG-1; NOOR-BAG-1"}
    assert row["created_at"].endswith("+00:00")


def test_a_merchant_sees_only_their_orders_and_lines(make_order, make_user, stores, merchant_of):
    lune, noor = stores
    both = make_order(assignee=make_user("staff"))
    theirs_not = make_order(stores=[noor])
    rows = list(export_rows([both.id, theirs_not.id], merchant_of(lune)))  # ids of another store are ignored
    assert [r["number"] for r in rows] == [both.number]
    assert (rows[0]["total"], rows[0]["stores"], rows[0]["skus"]) == ("250.00", "Lune", "LUNE-BAG-1")
    assert (rows[0]["refunded"], rows[0]["assignee"]) == ("", "")  # order-wide money and staff names stay out


def test_rows_are_read_in_batches_by_id(make_order, staff_actor, monkeypatch):
    orders = [make_order(created_at=hours_ago(i)) for i in range(5)]
    monkeypatch.setattr(export, "BATCH", 2)
    batches = [[o.id for o in batch] for batch in export._batches([o.id for o in reversed(orders)], staff_actor)]
    assert batches == [[orders[0].id, orders[1].id], [orders[2].id, orders[3].id], [orders[4].id]]


def test_formulas_are_defused_and_progress_is_reported_every_500_rows():
    out, seen = io.StringIO(), []
    rows = [{"number": f"CV-{i}", "customer_name": "=HYPERLINK(\"http://evil\")", "total": "-1.00"}
            for i in range(1000)]
    assert write_orders_csv(iter(rows), out, on_row=seen.append) == 1000
    assert seen == [500, 1000]
    parsed = list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    assert list(parsed[0]) == COLUMNS
    assert parsed[0]["customer_name"] == "'=HYPERLINK(\"http://evil\")" and parsed[0]["total"] == "-1.00"


def test_the_job_exports_what_the_filters_match(app, make_order, make_user):
    user = make_user("staff")
    make_order(payment_status="unpaid", number="CV-U1")
    make_order(number="CV-P1")
    assert export_orders_csv(user.id, "payment=unpaid", "tok-1") == 1
    assert [r["number"] for r in read_csv(user.id, "tok-1")] == ["CV-U1"]


def test_the_job_for_a_merchant_and_for_explicit_ids(app, make_order, make_user, stores):
    lune, noor = stores
    merchant = make_user("merchant", store=lune)
    both, noor_only, other = make_order(), make_order(stores=[noor]), make_order()
    assert export_orders_csv(merchant.id, "", "tok-2") == 2  # the actor is rebuilt from the user id
    assert {r["number"] for r in read_csv(merchant.id, "tok-2")} == {both.number, other.number}
    assert all(r["skus"] == "LUNE-BAG-1" for r in read_csv(merchant.id, "tok-2"))
    assert export_orders_csv(merchant.id, "", "tok-3", [noor_only.id, other.id]) == 1
    assert export_orders_csv(merchant.id, "", "tok-4", f"{noor_only.id},{both.id}") == 1  # enqueue-friendly form
    assert [r["number"] for r in read_csv(merchant.id, "tok-4")] == [both.number]


def test_a_deactivated_user_exports_nothing(app, make_order, make_user):
    user = make_user("staff", active=False)
    make_order()
    assert export_orders_csv(user.id, "", "tok-5") == 0
    assert get_storage().head(export_key(user.id, "tok-5")) is None


def test_through_rq_with_progress_and_a_download_link(app, make_order, make_user, redis_conn):
    user = make_user("staff")
    for _ in range(3):
        make_order()
    job_id = enqueue(export_orders_csv, user.id, "", "tok-rq")
    db.session.commit()
    SimpleWorker([Queue("low", connection=redis_conn)], connection=redis_conn).work(burst=True)
    state = job_progress(job_id)
    assert (state.status, state.done, state.total) == ("finished", 3, 3)
    assert state.result_url == "/admin/orders/exports/tok-rq.csv" and state.message == "3 orders exported."
    assert len(read_csv(user.id, "tok-rq")) == 3
