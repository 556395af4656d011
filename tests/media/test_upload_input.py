"""The media JSON and form endpoints refuse bodies of the wrong shape with a 4xx, never a 500."""
import pytest


@pytest.mark.parametrize("body", [{"filename": "a.png", "content_type": ["image/png"], "size": 10},
                                  {"filename": ["a.png"], "content_type": "image/png", "size": 10},
                                  {"filename": {"x": 1}, "content_type": "image/png", "size": 10}])
def test_list_or_object_values_are_a_400(uploader, body):
    response = uploader.client.post(f"/admin/products/{uploader.product.id}/media/uploads", json=body,
                                    headers={"X-CSRFToken": uploader.csrf})
    assert response.status_code == 400
    assert response.get_json()["error"] == "filename and content_type must be text."


def test_a_json_array_is_a_400(uploader):
    response = uploader.client.post(f"/admin/products/{uploader.product.id}/media/uploads", json=[1, 2],
                                    headers={"X-CSRFToken": uploader.csrf})
    assert response.status_code == 400


@pytest.mark.parametrize("move", ["²:up", f"{2**63}:down", "٣:up", "1:sideways"])
def test_an_unreadable_move_is_a_422(uploader, move):
    response = uploader.client.post(f"/admin/products/{uploader.product.id}/media/order",
                                    data={"move": move, "order": ["²", str(2**63)], "csrf_token": uploader.csrf},
                                    headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Choose an image to move up or down." in response.get_data(as_text=True)
