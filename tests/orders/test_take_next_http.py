"""Twenty staff press "Take next" at the same moment over HTTP: each gets a different order (PostgreSQL)."""
import threading

import requests
from sqlalchemy import func, select

from covet.extensions import db
from covet.orders.models import Order
from tests.conftest import PASSWORD, csrf_from, requires_postgres
from tests.orders.conftest import hours_ago

STAFF = 20


def _signed_in(base: str, email: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    login = session.get(f"{base}/admin/login", timeout=10)
    session.post(f"{base}/admin/login", data={"email": email, "password": PASSWORD,
                                              "csrf_token": csrf_from(login.text)}, timeout=10)
    page = session.get(f"{base}/admin/orders/", timeout=10)
    assert page.status_code == 200, page.text[:300]
    return session, csrf_from(page.text)


@requires_postgres
def test_concurrent_take_next_never_hands_out_one_order_twice(live_server, make_user, make_order):
    orders = [make_order(created_at=hours_ago(30 - i)) for i in range(STAFF + 5)]
    users = [make_user("staff") for _ in range(STAFF)]
    sessions = [_signed_in(live_server, user.email) for user in users]
    barrier, taken = threading.Barrier(STAFF), {}

    def press(index):
        session, token = sessions[index]
        barrier.wait()
        response = session.post(f"{live_server}/admin/orders/take-next", timeout=30, allow_redirects=False,
                                headers={"HX-Request": "true", "X-CSRFToken": token})
        taken[users[index].id] = response.headers.get("HX-Redirect")

    threads = [threading.Thread(target=press, args=(i,)) for i in range(STAFF)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    locations = list(taken.values())
    assert len(locations) == STAFF and None not in locations
    assert len(set(locations)) == STAFF  # twenty different orders
    db.session.expire_all()
    for user_id, location in taken.items():
        order = db.session.get(Order, int(location.rsplit("/", 1)[1]))
        assert order.assignee_id == user_id
    oldest = {o.id for o in orders[:STAFF]}
    assert {int(loc.rsplit("/", 1)[1]) for loc in locations} == oldest  # the oldest twenty, none skipped
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.assignee_id.is_not(None))) == STAFF
