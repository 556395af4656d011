"""50 orders completing at once for 10 units: exactly 10 sold, the rest flagged, stock never negative."""
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from covet.catalog.models import InventoryAdjustment, Variant
from covet.orders.models import Order, OrderTag
from covet.webhooks import services
from covet.webhooks.models import StripeEvent
from tests.conftest import requires_postgres
from tests.webhooks.support import session_completed


@requires_postgres
def test_fifty_concurrent_completions_for_ten_units(app, db, make_order, stocked):
    orders = [make_order(f"CV-{n:03d}") for n in range(50)]
    rows = []
    for order in orders:
        body = session_completed(order)
        rows.append(StripeEvent(event_id=body["id"], type=body["type"], payload=body, status="pending"))
    db.session.add_all(rows)
    db.session.commit()
    ids = [row.id for row in rows]
    start = threading.Barrier(10)

    def work(chunk):
        with app.app_context():
            start.wait()  # everyone starts together: as concurrent as it gets
            for row_id in chunk:
                services.process(row_id)
            db.session.remove()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(work, [ids[i::10] for i in range(10)]))

    db.session.expire_all()
    assert db.session.scalar(select(Variant.stock_on_hand).where(Variant.id == stocked.id)) == 0
    sold = db.session.scalars(select(InventoryAdjustment).where(InventoryAdjustment.reason == "sold")).all()
    assert len(sold) == 10 and sorted(e.stock_after for e in sold) == list(range(10))
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.payment_status == "paid")) == 50
    flagged = db.session.scalar(select(func.count()).select_from(OrderTag).where(OrderTag.tag == "stock-problem"))
    assert flagged == 40
    assert db.session.scalar(select(func.count()).select_from(StripeEvent).where(StripeEvent.status == "processed")) \
        == 50
