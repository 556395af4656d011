"""Control characters and JSON of the wrong shape are refused before any view: 422 naming the field (400 for a
body that is no JSON object), as a page or as JSON. PostgreSQL answered NUL with a 500 everywhere."""
import pytest

from tests.conftest import csrf_from


def _login_page_token(client) -> str:
    return csrf_from(client.get("/admin/login").get_data(as_text=True))


@pytest.mark.parametrize("email", ["staff\x00@covet.test", "\x00", "staff@covet.test\x1b"])
def test_a_control_character_in_the_sign_in_email_is_a_422_naming_the_field(client, email):
    response = client.post("/admin/login", data={"email": email, "password": "x" * 12,
                                                 "csrf_token": _login_page_token(client)})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "“email” contains a control character" in text and 'id="error"' in text


def test_query_args_path_segments_and_field_names_are_checked(client, login_as):
    login_as("admin")
    response = client.get("/admin/orders/", query_string={"q": "CV-1\x00"})
    assert response.status_code == 422 and "“q” contains a control character (NUL)" in response.get_data(as_text=True)
    response = client.get("/admin/jobs/abc%00def/progress")
    assert response.status_code == 422 and "“job_id”" in response.get_data(as_text=True)
    response = client.get("/admin/orders/", query_string={"bad\x07name": "1"})
    assert response.status_code == 422 and "“bad?name” contains a control character (U+0007)" in \
        response.get_data(as_text=True)


def test_tab_cr_and_lf_are_text_not_control_characters(client, login_as):
    login_as("admin")
    assert client.get("/admin/orders/", query_string={"q": "two\r\nlines\tand a tab"}).status_code == 200


def test_json_strings_are_checked_at_any_depth_and_answered_in_json(client):
    response = client.post("/checkout", json={"items": [{"variant_id": 1, "note": "a\x00b"}], "email": "a@b.test"})
    assert response.status_code == 422
    assert response.get_json() == {"error": "“items[0].note” contains a control character (NUL). Remove it and "
                                            "try again.", "field": "items[0].note", "status": 422}


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "12", "[" * 100_000 + "]" * 100_000,
                                  '{"a":' * 30 + "1" + "}" * 30])
def test_a_json_body_that_is_no_object_or_too_deep_is_a_400(client, body):
    response = client.post("/checkout", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] in ("Send a JSON object.", "The JSON body is nested too deeply.")


def test_an_uploaded_file_name_is_checked(client, login_as, make_store):
    import io

    login_as("admin")
    store = make_store("lune")
    page = client.get("/admin/products/imports").get_data(as_text=True)
    response = client.post("/admin/products/imports", data={
        "csrf_token": csrf_from(page), "store_id": str(store.id),
        "file": (io.BytesIO(b"product_slug,sku,price\n"), "cat\x00alogue.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "file name of file" in response.get_data(as_text=True)


def test_the_stripe_webhook_is_not_guarded_its_signature_is_the_check(app, client):
    app.config["STRIPE_WEBHOOK_SECRET"] = "whsec_test"
    response = client.post("/webhooks/stripe?x=%00", data=b'{"id": "evt_\\u0000"}',
                           content_type="application/json", headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400 and response.get_json() == {"error": "invalid signature"}
