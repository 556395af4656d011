"""Nothing a signed-in user is shown may be stored by a browser, a proxy or a CDN (order pages carry addresses)."""
import pytest


@pytest.mark.parametrize("role", ["admin", "staff", "merchant"])
def test_every_signed_in_page_is_no_store(client, login_as, role, htmx_headers):
    login_as(role)
    for path, headers in (("/admin/", {}), ("/admin/orders/", {}), ("/admin/orders/", htmx_headers),
                          ("/admin/orders/999999", {}), ("/api/health", {})):
        response = client.get(path, headers=headers)
        assert response.headers.get("Cache-Control") == "no-store", (path, response.status_code)


def test_a_post_answer_while_signed_in_is_no_store(client, login_as):
    login_as("staff")
    response = client.post("/admin/logout", data={})
    assert response.headers.get("Cache-Control") == "no-store"


def test_signed_out_pages_and_shared_files_keep_their_caching(client, login_as):
    assert "no-store" not in client.get("/admin/login").headers.get("Cache-Control", "")
    login_as("staff")
    css = client.get("/static/css/" + _first_css())
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")


def _first_css() -> str:
    from pathlib import Path

    return sorted(p.name for p in (Path(__file__).parents[2] / "static" / "css").glob("*.css"))[0]
