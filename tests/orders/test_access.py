"""Merchants see only orders holding their store's lines, and only those lines."""
import pytest

from covet.errors import NotFoundError
from covet.orders.access import order_for, visible_lines


def test_merchant_sees_only_orders_and_lines_of_their_store(stores, make_order, merchant_of, staff_actor):
    lune, noor = stores
    both = make_order()
    noor_only = make_order(stores=[noor])
    merchant = merchant_of(lune)
    assert [line.store_id for line in visible_lines(order_for(merchant, both.id), merchant)] == [lune.id]
    with pytest.raises(NotFoundError):
        order_for(merchant, noor_only.id)
    assert len(visible_lines(order_for(staff_actor, both.id), staff_actor)) == 2
