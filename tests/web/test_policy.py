"""One policy for every /admin route: sign-in, roles, and store scope (404 for other stores)."""
import pytest

from covet.web.policy import PUBLIC_ADMIN_ENDPOINTS, roles_for


def admin_endpoints(app):
    return sorted({r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/admin")}
                  - PUBLIC_ADMIN_ENDPOINTS)


def test_every_admin_view_declares_its_roles(app):
    missing = [e for e in admin_endpoints(app) if roles_for(e) is None]
    assert missing == []
    assert len(admin_endpoints(app)) >= 6


def test_a_view_without_roles_is_refused(app, client, login_as):
    app.add_url_rule("/admin/forgotten", "forgotten", lambda: "secret")
    login_as("admin")
    assert client.get("/admin/forgotten").status_code == 403


@pytest.mark.parametrize("path", ["/admin/", "/admin/stores/", "/admin/users/", "/admin/account/password"])
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_anonymous_htmx_request_gets_401_and_hx_redirect(client, htmx_headers):
    response = client.get("/admin/stores/", headers=htmx_headers)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/admin/login")
    assert response.get_data(as_text=True) == ""  # nothing to swap into a cell


@pytest.mark.parametrize("role, status", [("admin", 200), ("staff", 403), ("merchant", 403)])
def test_users_page_is_admin_only(client, login_as, role, status):
    login_as(role)
    assert client.get("/admin/users/").status_code == status


def test_merchant_sees_own_store_and_404_for_another(client, login_as, make_store):
    other = make_store("rival")
    merchant = login_as("merchant")
    assert client.get(f"/admin/stores/{merchant.store_id}").status_code == 200
    assert client.get(f"/admin/stores/{other.id}").status_code == 404
    listing = client.get("/admin/stores/").get_data(as_text=True)
    assert f'id="store-row-{merchant.store_id}"' in listing
    assert f'id="store-row-{other.id}"' not in listing


def test_staff_sees_every_store(client, login_as, make_store):
    a, b = make_store("one"), make_store("two")
    login_as("staff")
    listing = client.get("/admin/stores/").get_data(as_text=True)
    assert f'id="store-row-{a.id}"' in listing and f'id="store-row-{b.id}"' in listing
    assert client.get(f"/admin/stores/{b.id}").status_code == 200


def test_merchant_dashboard_counts_only_own_store(db, client, login_as, make_store):
    from covet.dbtypes import utcnow
    from covet.orders.models import Order, OrderLine

    merchant = login_as("merchant")
    other = make_store("elsewhere")

    def order(number, store_id):
        db.session.add(Order(number=number, email="c@example.com", currency="eur", total_amount=1000,
                             payment_status="paid", paid_at=utcnow(),
                             lines=[OrderLine(store_id=store_id, product_title="Bag", sku=number,
                                              unit_price_amount=1000, quantity=1)]))
    order("CV-1", merchant.store_id)
    order("CV-2", other.id)
    order("CV-3", other.id)
    db.session.commit()
    page = client.get("/admin/").get_data(as_text=True)
    assert "CV-1" in page and "CV-2" not in page and "CV-3" not in page
    assert 'id="orders-today">1<' in page
