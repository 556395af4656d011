"""A merchant works on their own store's images only: another store's product or image is a 404, by any id."""
import io

import pytest

from covet.media.models import Media
from tests.conftest import csrf_from


@pytest.fixture
def other_store_image(db, make_store, make_product):
    """An image of store B's product, already processed."""
    product = make_product(make_store("store-b"), title="B's bag")
    media = Media(store_id=product.store_id, product_id=product.id, s3_key=f"products/{product.id}/x/original.jpg",
                  filename="b.jpg", status="ready", alt_text="B's alt", position=0,
                  renditions={"800": f"products/{product.id}/x/800.webp"})
    db.session.add(media)
    db.session.commit()
    return product, media


def test_merchant_a_gets_404_for_everything_of_store_b(client, login_as, make_store, make_product,
                                                       other_store_image, db):
    store_a = make_store("store-a")
    login_as("merchant", store=store_a)
    own = make_product(store_a)
    page = client.get(f"/admin/products/{own.id}/media")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    product, media = other_store_image
    headers = {"X-CSRFToken": token}
    form = {"csrf_token": token}
    attempts = [
        client.get(f"/admin/products/{product.id}/media"),
        client.post(f"/admin/products/{product.id}/media/uploads", headers=headers,
                    json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}),
        client.post(f"/admin/products/{product.id}/media", content_type="multipart/form-data",
                    data={**form, "file": [(io.BytesIO(b"x"), "a.jpg")]}),
        client.post(f"/admin/products/{product.id}/media/order", data={**form, "order": [str(media.id)]}),
        client.get(f"/admin/media/{media.id}"),
        client.post(f"/admin/media/{media.id}/confirm", headers=headers),
        client.post(f"/admin/media/{media.id}/alt", data={**form, "alt_text": "mine now"}),
        client.post(f"/admin/media/{media.id}/delete", data=form),
    ]
    assert [response.status_code for response in attempts] == [404] * len(attempts)
    db.session.expire_all()
    unchanged = db.session.get(Media, media.id)
    assert (unchanged.alt_text, unchanged.status) == ("B's alt", "ready")
    assert db.session.query(Media).filter_by(product_id=product.id).count() == 1


def test_reordering_ignores_ids_of_another_products_images(client, login_as, make_store, make_product,
                                                           other_store_image, db):
    store_a = make_store("store-a")
    login_as("merchant", store=store_a)
    own = make_product(store_a)
    mine = Media(store_id=store_a.id, product_id=own.id, s3_key=f"products/{own.id}/y/original.jpg",
                 status="ready", position=0)
    db.session.add(mine)
    db.session.commit()
    token = csrf_from(client.get(f"/admin/products/{own.id}/media").get_data(as_text=True))
    _, theirs = other_store_image
    response = client.post(f"/admin/products/{own.id}/media/order",
                           data={"csrf_token": token, "order": [str(theirs.id), str(mine.id)]})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Media, theirs.id).position == 0 and db.session.get(Media, theirs.id).product_id != own.id


def test_staff_and_admin_may_work_on_any_store(client, login_as, other_store_image):
    login_as("staff")
    product, media = other_store_image
    assert client.get(f"/admin/products/{product.id}/media").status_code == 200
    assert client.get(f"/admin/media/{media.id}").status_code == 200
