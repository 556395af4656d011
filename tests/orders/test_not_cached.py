"""An order page (customer name, address, email) is never stored by a cache."""


def test_an_order_page_with_the_address_is_no_store(client, login_as, make_order):
    login_as("staff")
    order = make_order()
    response = client.get(f"/admin/orders/{order.id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "Expires" not in response.headers
