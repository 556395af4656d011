"""Catalogue screens over HTTP, both as htmx fragments and as plain pages."""
import re

from sqlalchemy import func, select

from covet.catalog.models import Product, Variant
from tests.catalog.test_services import row

HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def token(client, path="/admin/products/"):
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_list_searches_filters_and_pages_by_keyset(client, db, signed_in, dress, merchant_actor):
    from covet.catalog import products

    for n in range(30):
        products.create_product({"title": f"Scarf {n:02d}", "brand": "Lune"}, merchant_actor.store_id, merchant_actor)
    first = client.get("/admin/products/?sort=title&q=scarf", headers=HX)
    body = first.get_data(as_text=True)
    assert "<html" not in body and body.count('id="product-row-') == 25 and "Silk Dress" not in body
    next_url = re.search(r'id="next-page" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert second.count('id="product-row-') == 5 and "Scarf 29" in second and "Scarf 00" not in second
    by_sku = client.get(f"/admin/products/?q={dress.variants[0].sku[:6]}").get_data(as_text=True)
    assert f'id="product-row-{dress.id}"' in by_sku
    out = client.get("/admin/products/?stock=out&q=silk").get_data(as_text=True)
    assert f'id="product-row-{dress.id}"' in out  # no stock received yet
    low = client.get("/admin/products/?stock=low&q=silk").get_data(as_text=True)
    assert f'id="product-row-{dress.id}"' not in low


def test_merchant_sees_only_own_products_and_404_elsewhere(client, db, dress, make_user, make_store):
    from covet.audit.services import Actor
    from covet.catalog import products
    from tests.conftest import login

    rival_user = make_user("merchant", store=make_store("rival"))
    rival = products.create_product({"title": "Rival Bag"}, rival_user.store_id, Actor.for_user(rival_user))
    login(client, rival_user.email)
    listing = client.get("/admin/products/").get_data(as_text=True)
    assert "Rival Bag" in listing and "Silk Dress" not in listing
    v = dress.variants[0]
    for path in (f"/admin/products/{dress.id}", f"/admin/products/{dress.id}/variants/{v.id}/edit",
                 f"/admin/products/{dress.id}/variants/{v.id}/ledger"):
        assert client.get(path).status_code == 404, path
    csrf = token(client)
    assert client.post(f"/admin/products/{dress.id}/variants/{v.id}",
                       data={**row(v, price="1.00"), "version": v.version, "csrf_token": csrf}).status_code == 404
    assert client.post(f"/admin/products/{dress.id}/variants/bulk",
                       data={"variant_ids": [v.id], "operation": "set_price", "value": "1", "csrf_token": csrf}
                       ).status_code == 404
    assert rival.id


def test_row_edit_save_and_errors_as_fragments(client, db, signed_in, dress):
    v = dress.variants[0]
    edit = client.get(f"/admin/products/{dress.id}/variants/{v.id}/edit", headers=HX).get_data(as_text=True)
    assert "<html" not in edit and f'id="variant-row-{v.id}"' in edit and 'name="price"' in edit
    csrf = token(client)
    bad = client.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX,
                      data={**row(v, price="abc"), "version": v.version, "csrf_token": csrf})
    assert bad.status_code == 422 and "is not an amount" in bad.get_data(as_text=True)
    ok = client.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX,
                     data={**row(v, price="88.00"), "version": v.version, "csrf_token": csrf})
    body = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "€88.00" in body and "row-edit" in body and "saved" in ok.headers["HX-Trigger"]


def test_row_save_without_javascript_redirects(client, db, signed_in, dress):
    v = dress.variants[0]
    page = client.get(f"/admin/products/{dress.id}/variants/{v.id}/edit")
    assert "<html" in page.get_data(as_text=True)
    response = client.post(f"/admin/products/{dress.id}/variants/{v.id}",
                           data={**row(v, price="77.00"), "version": v.version, "csrf_token": token(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"#variant-row-{v.id}")
    assert db.session.get(Variant, v.id).price_amount == 7700


def test_two_sessions_editing_one_variant_get_a_conflict(app, client, db, signed_in, dress):
    from tests.conftest import login

    v = dress.variants[0]
    other = app.test_client()
    login(other, signed_in.email)
    loaded = v.version
    original = {f"orig_{k}": val for k, val in row(v).items()}
    theirs = other.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX,
                        data={**row(v, price="120.00"), **original, "version": loaded, "csrf_token": token(other)})
    assert theirs.status_code == 200
    mine = client.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX,
                       data={**row(v, price="95.00"), **original, "version": loaded, "csrf_token": token(client)})
    body = mine.get_data(as_text=True)
    assert mine.status_code == 409 and "changed by someone else" in body
    assert "120.00" in body and "95.00" in body and "Keep mine" in body and "Take theirs" in body
    db.session.expire_all()
    assert db.session.get(Variant, v.id).price_amount == 12000  # never silently overwritten
    keep_mine = re.search(r'<form method="post"[^>]*class="inline".*?</form>', body, re.S).group(0)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', keep_mine))
    again = client.post(f"/admin/products/{dress.id}/variants/{v.id}", headers=HX, data=fields)
    assert again.status_code == 200
    db.session.expire_all()
    assert db.session.get(Variant, v.id).price_amount == 9500


def test_bulk_edit_fragment_and_all_or_nothing(client, db, signed_in, dress):
    ids = [v.id for v in dress.variants]
    csrf = token(client)
    bad = client.post(f"/admin/products/{dress.id}/variants/bulk", headers=HX,
                      data={"variant_ids": ids, "operation": "adjust_stock", "value": "-1", "reason": "damaged",
                            "csrf_token": csrf})
    assert bad.status_code == 422 and "Nothing was changed" in bad.get_data(as_text=True)
    good = client.post(f"/admin/products/{dress.id}/variants/bulk", headers=HX,
                       data={"variant_ids": ids[:3], "operation": "add_amount", "value": "-10.00", "csrf_token": csrf})
    assert good.status_code == 200 and 'id="variants"' in good.get_data(as_text=True)
    prices = sorted(db.session.scalars(select(Variant.price_amount).where(Variant.product_id == dress.id)))
    assert prices == [9000, 9000, 9000, 10000, 10000, 10000]


def test_options_deletion_needs_the_box_ticked(client, db, signed_in, dress):
    csrf = token(client)
    data = {"option_name": ["Size", "Colour", ""], "option_values": ["S", "Noir, Ivory", ""], "csrf_token": csrf}
    asked = client.post(f"/admin/products/{dress.id}/options", headers=HX, data=data)
    assert asked.status_code == 409 and "deletes 4 variants" in asked.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Variant)) == 6
    done = client.post(f"/admin/products/{dress.id}/options", data={**data, "confirm_delete": "yes"})
    assert done.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Variant)) == 2


def test_new_product_and_generate_over_http(client, db, signed_in):
    csrf = token(client, "/admin/products/new")
    invalid = client.post("/admin/products/new", data={"title": "", "csrf_token": csrf})
    assert invalid.status_code == 422 and "Give the product a title" in invalid.get_data(as_text=True)
    created = client.post("/admin/products/new", data={"title": "Wool Coat", "status": "draft", "csrf_token": csrf})
    product = db.session.scalar(select(Product).where(Product.title == "Wool Coat"))
    assert created.status_code == 303 and created.headers["Location"] == f"/admin/products/{product.id}"
    client.post(f"/admin/products/{product.id}/options",
                data={"option_name": ["Size"], "option_values": ["S, M"], "csrf_token": csrf})
    response = client.post(f"/admin/products/{product.id}/generate", data={"base_price": "450", "csrf_token": csrf})
    assert response.status_code == 303
    assert sorted(db.session.scalars(select(Variant.price_amount).where(Variant.product_id == product.id))) == \
        [45000, 45000]


def test_ledger_lists_stock_changes(client, db, signed_in, dress, merchant_actor):
    from covet.catalog import variants

    v = dress.variants[0]
    variants.save_variant(v.id, dress.id, v.version, row(v, stock="4", stock_reason="received"), merchant_actor)
    page = client.get(f"/admin/products/{dress.id}/variants/{v.id}/ledger", headers=HX).get_data(as_text=True)
    assert f'id="ledger-{v.id}"' in page and "+4" in page and "received" in page


def test_stale_product_details_save_is_a_conflict(client, db, signed_in, dress):
    csrf = token(client)
    stale = dress.version
    first = client.post(f"/admin/products/{dress.id}", data={"title": "Silk Gown", "status": "active",
                                                            "version": stale, "csrf_token": csrf})
    assert first.status_code == 303
    second = client.post(f"/admin/products/{dress.id}", headers=HX,
                         data={"title": "Silk Slip", "status": "draft", "version": stale, "csrf_token": csrf})
    body = second.get_data(as_text=True)
    assert second.status_code == 409 and "Someone saved this product" in body and "Silk Gown" in body
    assert 'value="Silk Slip"' in body  # your values stay in the form
    db.session.expire_all()
    assert db.session.get(Product, dress.id).title == "Silk Gown"
