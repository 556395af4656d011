"""User-sent idempotency keys are tokens: markup in one is a 422 and never reaches a job argument."""
import pytest
from sqlalchemy import func, select

from covet.errors import ValidationError
from covet.extensions import db
from covet.idempotency import checked_key, is_token
from covet.jobs.models import JobOutbox
from covet.orders.models import Fulfilment, Order
from covet.payments.models import Refund
from tests.catalog.test_csv import run_jobs
from tests.conftest import csrf_from

XSS = '<img src=x onerror="alert(document.domain)">'


@pytest.mark.parametrize("key", ["a", "k" * 64, "0f9e-AB_cd", "8c1d2b1e5f0a4b6c9d7e3f2a1b0c9d8e"])
def test_tokens_are_accepted(key):
    assert is_token(key) and checked_key(key) == key


@pytest.mark.parametrize("key", ["", "k" * 65, XSS, "abc def", "key:1", "ключ", "٣٣٣", "abc\n", None, 12])
def test_anything_else_is_refused(key):
    assert not is_token(key)
    with pytest.raises(ValidationError, match="idempotency key is not valid"):
        checked_key(key)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _csrf(client) -> str:
    return csrf_from(client.get("/admin/orders/").get_data(as_text=True))


@pytest.mark.parametrize("scope", ["all", "ticked"])
def test_bulk_fulfil_with_markup_in_the_key_is_422_and_enqueues_nothing(app, client, login_as, make_order,
                                                                        htmx_headers, scope):
    login_as("staff")
    order = make_order()
    form = {"csrf_token": _csrf(client), "action": "fulfil", "scope": scope, "query": "", "idempotency_key": XSS,
            "order_ids": str(order.id)}
    page = client.post("/admin/orders/bulk", data=form)
    assert page.status_code == 422 and "idempotency key is not valid" in page.get_data(as_text=True)
    fragment = client.post("/admin/orders/bulk", data=form, headers=htmx_headers)
    assert fragment.status_code == 422 and 'id="order-list"' in fragment.get_data(as_text=True)
    assert "idempotency key is not valid" in fragment.headers.get("HX-Trigger", "")
    assert _count(JobOutbox) == 0
    run_jobs(app)
    assert _count(Fulfilment) == 0
    assert client.get(f"/admin/orders/{order.id}").status_code == 200


def test_the_job_itself_refuses_a_key_that_is_not_a_token(app, make_order, make_user):
    from covet.orders.jobs import bulk_fulfil_orders

    staff = make_user("staff")
    order = make_order()
    assert bulk_fulfil_orders(staff.id, "", XSS, str(order.id)) == 0
    assert _count(Fulfilment) == 0


@pytest.mark.parametrize("action, fields", [
    ("refund", {"amount": "1.00"}),
    ("fulfil", {"carrier": "dhl", "tracking_number": "JD0001"}),
    ("cancel", {"confirm": "yes"}),
])
def test_order_forms_refuse_a_key_with_markup(client, login_as, make_order, action, fields):
    login_as("admin")
    order = make_order()
    csrf = csrf_from(client.get(f"/admin/orders/{order.id}").get_data(as_text=True))
    response = client.post(f"/admin/orders/{order.id}/{action}",
                           data={**fields, "idempotency_key": "k" * 10 + XSS, "csrf_token": csrf})
    assert response.status_code == 422 and "idempotency key is not valid" in response.get_data(as_text=True)
    assert _count(Refund) == 0 and _count(Fulfilment) == 0
    db.session.expire_all()
    assert db.session.get(Order, order.id).state != "cancelled"
