"""POST /checkout with a body of the wrong shape: a 400 or 422 that says what is wrong, never a 500."""
import pytest

from covet.money import MAX_AMOUNT


@pytest.mark.parametrize("body, message", [
    ({"items": "scarf"}, "items must be a list of objects"),
    ({"items": {"variant_id": 1}}, "items must be a list of objects"),
    ({"items": [1, "x"]}, "items must be a list of objects"),
    ({"items": [{"variant_id": 1, "quantity": 1}], "email": ["shopper@example.com"]},
     "email and currency must be text"),
    ({"items": [{"variant_id": 1, "quantity": 1}], "email": "shopper@example.com", "currency": {"x": 1}},
     "email and currency must be text"),
    ({"items": [{"variant_id": 1, "quantity": 1}], "email": 12}, "email and currency must be text"),
])
def test_wrong_shapes_are_a_400_with_a_message(client, body, message):
    response = client.post("/checkout", json=body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("body", [[{"variant_id": 1}], "a string", 7])
def test_a_body_that_is_no_object_is_a_400(client, body):
    response = client.post("/checkout", json=body)
    assert response.status_code == 400 and response.get_json()["error"]


@pytest.mark.parametrize("item", [{"variant_id": 2**63, "quantity": 1}, {"variant_id": 2**31, "quantity": 1},
                                  {"variant_id": True, "quantity": 1}, {"variant_id": 1, "quantity": True},
                                  {"variant_id": "1", "quantity": 1}, {"variant_id": 1, "quantity": 2**70},
                                  {"variant_id": 1.5, "quantity": 1}])
def test_impossible_ids_and_quantities_are_a_422_naming_the_item(client, shop, item):
    response = client.post("/checkout", json={"items": [item], "email": "shopper@example.com", "currency": "eur"})
    assert response.status_code == 422
    assert "items[0]" in response.get_json()["fields"]


def test_a_total_beyond_an_order_total_column_is_a_422(client, db, shop):
    shop.price_amount, shop.stock_on_hand = MAX_AMOUNT, 20
    db.session.commit()
    response = client.post("/checkout", json={"items": [{"variant_id": shop.id, "quantity": 2}],
                                              "email": "shopper@example.com", "currency": "eur"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"items": "The cart's total is too large for one order."}


def test_the_form_ignores_ids_and_quantities_it_cannot_read(client, shop):
    response = client.post("/checkout", data={"variant_id": ["²", str(2**63), str(shop.id)],
                                              "quantity": ["1", "1", "٣"], "email": "shopper@example.com"})
    assert response.status_code == 422  # nothing readable left in the cart
    assert response.get_json()["fields"] == {"items": "Add 1 to 50 items."}
