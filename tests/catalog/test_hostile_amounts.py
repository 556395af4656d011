"""Every form that takes an amount or a count answers hostile numbers with a 422 next to the field (or in the bulk
panel) and writes nothing: price, compare-at, stock, weight, base price and every bulk operation."""
import pytest
from sqlalchemy import select

from covet.catalog.models import Variant
from tests.catalog.test_services import row
from tests.catalog.test_views import HX, token

AMOUNTS = ["1e400", "²", "١٢٣", "inf", "99999999999", "9" * 5000, "12\u00a0000.5.5"]


@pytest.mark.parametrize("field", ["price", "compare_at"])
@pytest.mark.parametrize("value", AMOUNTS, ids=lambda v: v[:12])
def test_row_amounts(client, db, signed_in, dress, field, value):
    v = dress.variants[0]
    response = client.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX,
                           data={**row(v, **{field: value}), "version": v.version, "csrf_token": token(client)})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "is not an amount" in text or "too large" in text
    db.session.expire_all()
    assert db.session.get(Variant, v.id).price_amount == 10000


@pytest.mark.parametrize("field", ["stock", "weight"])
@pytest.mark.parametrize("value", ["²", "٣", str(2**31), "9" * 5000, "1e3", "1_000"], ids=lambda v: v[:12])
def test_row_counts(client, db, signed_in, dress, field, value):
    v = dress.variants[0]
    response = client.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX,
                           data={**row(v, **{field: value}), "version": v.version, "csrf_token": token(client)})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Enter a whole number." in text or "Enter a number from 0 to" in text


@pytest.mark.parametrize("value", AMOUNTS, ids=lambda v: v[:12])
def test_base_price_for_generated_variants(client, signed_in, dress, value):
    response = client.post(f"/admin/products/{dress.id}/generate", headers=HX,
                           data={"base_price": value, "csrf_token": token(client)})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "is not an amount" in text or "too large" in text


@pytest.mark.parametrize("operation, value", [
    ("set_price", "1e400"), ("set_price", "²"), ("set_compare_at", "99999999999"), ("add_amount", "+1e400"),
    ("add_amount", "21474836.47"), ("percent", "1e400"), ("percent", "nan"), ("percent", "99999"),
    ("adjust_stock", "²"), ("adjust_stock", "9" * 5000), ("adjust_stock", str(2**31)), ("adjust_stock", "10000001"),
], ids=lambda v: v[:16])
def test_bulk_operations(client, db, signed_in, dress, operation, value):
    ids = [v.id for v in dress.variants] + ["²", str(2**63)]  # unreadable ticks are ignored
    response = client.post(f"/admin/products/{dress.id}/variants/bulk", headers=HX,
                           data={"variant_ids": ids, "operation": operation, "value": value, "reason": "received",
                                 "csrf_token": token(client)})
    assert response.status_code == 422
    db.session.expire_all()
    assert set(db.session.scalars(select(Variant.price_amount).where(Variant.product_id == dress.id))) == {10000}
    assert set(db.session.scalars(select(Variant.stock_on_hand).where(Variant.product_id == dress.id))) == {0}
