"""`next=` after sign-in: a same-site path is followed; a line break, a backslash or another site is ignored
(the dashboard), never a 500 from a CR/LF in the Location header nor an open redirect."""
import pytest

from tests.conftest import PASSWORD, csrf_from


def _sign_in(client, user, next_value):
    page = client.get("/admin/login", query_string={"next": next_value})
    assert page.status_code == 200
    return client.post("/admin/login", data={"email": user.email, "password": PASSWORD, "next": next_value,
                                             "csrf_token": csrf_from(page.get_data(as_text=True))})


@pytest.mark.parametrize("next_value", ["/admin/orders\r\nSet-Cookie: stolen=1", "/\r\n/evil.example",
                                        "/\n/evil.example", "/\t/evil.example", "/\\evil.example",
                                        "//evil.example", "https://evil.example/admin", "/" + "a" * 3000])
def test_a_hostile_next_is_ignored(client, make_user, next_value):
    response = _sign_in(client, make_user("staff"), next_value)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    assert "Set-Cookie: stolen" not in str(response.headers)


def test_a_same_site_next_is_followed(client, make_user):
    response = _sign_in(client, make_user("staff"), "/admin/orders/?view=mine&q=caf%C3%A9")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/orders/?view=mine&q=caf%C3%A9"


def test_a_signed_in_visit_with_a_hostile_next_goes_to_the_dashboard(client, login_as):
    login_as("staff")
    response = client.get("/admin/login", query_string={"next": "/x\r\nSet-Cookie: a=1"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
