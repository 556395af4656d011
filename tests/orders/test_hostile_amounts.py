"""The refund amount and the queue's amount filters answer hostile numbers with a 422 saying why, never a 500
(parse_money used to let 1e400 through to quantize, and took Arabic-Indic digits)."""
import pytest
from sqlalchemy import func, select

from covet.payments.models import Refund
from tests.orders.test_detail_views import form_fields, page

AMOUNTS = ["1e400", "²", "١٢٣", "nan", "99999999999", "9" * 5000]


@pytest.mark.parametrize("amount", AMOUNTS, ids=lambda v: v[:12])
def test_a_hostile_refund_amount_is_a_422_by_the_field(client, db, login_as, make_order, htmx_headers, amount):
    order = make_order()
    login_as("staff")
    fields = form_fields(page(client, order), "refund-form")
    response = client.post(f"/admin/orders/{order.id}/refund", headers=htmx_headers, data={**fields, "amount": amount})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and ("is not an amount" in body or "too large" in body)
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0


@pytest.mark.parametrize("amount", AMOUNTS, ids=lambda v: v[:12])
def test_hostile_queue_amount_filters_are_reported(client, login_as, make_order, amount):
    make_order()
    login_as("staff")
    for name in ("min", "max"):
        response = client.get("/admin/orders/", query_string={name: amount})
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and ("is not an amount" in body or "too large" in body)


HUGE = "9" * 5000


def test_hostile_restock_and_assignee_values_are_422s(client, db, login_as, make_order, htmx_headers):
    """A 5,000-digit restock quantity or assignee used to reach int() and the database: now a clear 422."""
    order = make_order()
    login_as("staff")
    fields = form_fields(page(client, order), "refund-form")
    line_id = order.lines[0].id
    response = client.post(f"/admin/orders/{order.id}/refund", headers=htmx_headers,
                           data={**fields, "amount": "1.00", f"restock-{line_id}": HUGE, f"restock-{HUGE}": "1"})
    assert response.status_code == 422 and "Enter a number from 0 to 100,000" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    fields = form_fields(page(client, order), "assign-form")
    response = client.post(f"/admin/orders/{order.id}/assign", headers=htmx_headers,
                           data={**fields, "assignee": HUGE, "expected_assignee": HUGE})
    assert response.status_code == 422 and "Choose someone from the list" in response.get_data(as_text=True)
