"""Links that leave the site come from PUBLIC_URL, never the Host header; TRUSTED_HOSTS refuses other hosts."""
import pytest

from covet.config import ConfigError, load_config
from covet.web.urls import public_url
from tests.conftest import csrf_from
from tests.stores.test_connect import store_page

EVIL = "evil.example"


def test_public_url_ignores_the_requests_host(app):
    app.config["PUBLIC_URL"] = "https://shop.covet.test"
    with app.test_request_context("/", headers={"Host": EVIL}):
        url = public_url("stores.connect_return", store_id=7)
    assert url == "https://shop.covet.test/admin/stores/7/connect/return"


def test_stripe_onboarding_links_ignore_a_forged_host(app, client, stripe_fake, login_as):
    stripe_fake.set_stripe_config(app)
    app.config["PUBLIC_URL"] = "https://shop.covet.test"
    store = login_as("merchant").store
    csrf = csrf_from(store_page(client, store.id))
    session = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    client.set_cookie(session.key, session.value, domain=EVIL)  # as sent through a proxy that forged the Host
    response = client.post(f"/admin/stores/{store.id}/connect", data={"csrf_token": csrf}, headers={"Host": EVIL})
    assert response.status_code == 303
    link = stripe_fake.requests_to("POST", "/v1/account_links")[-1].params
    assert link["return_url"] == f"https://shop.covet.test/admin/stores/{store.id}/connect/return"
    assert link["refresh_url"] == f"https://shop.covet.test/admin/stores/{store.id}/connect/refresh"


def test_trusted_hosts_answer_400_to_any_other_host(app, client):
    app.config["TRUSTED_HOSTS"] = ["localhost", ".covet.test"]
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health", headers={"Host": "shop.covet.test"}).status_code == 200
    refused = client.get("/admin/login", headers={"Host": EVIL})
    assert refused.status_code == 400 and "could not be understood" in refused.get_data(as_text=True)
    for path in ("/admin/orders/", "/", "/api/health", "/webhooks/stripe", "/no-such-page"):
        for method in (client.get, client.post):
            assert method(path, headers={"Host": EVIL}).status_code == 400, (path, method)


def test_trusted_hosts_from_the_environment(tmp_path):
    cfg = load_config(str(tmp_path), {"TRUSTED_HOSTS": " Covet.app, .covet.app ,", "PUBLIC_URL": "https://covet.app"})
    assert cfg["TRUSTED_HOSTS"] == ["covet.app", ".covet.app"]
    assert load_config(str(tmp_path), {})["TRUSTED_HOSTS"] is None  # unset: any host, as before


@pytest.mark.parametrize("env, message", [
    ({"TRUSTED_HOSTS": "covet.app", "PUBLIC_URL": "https://shop.example"}, "add PUBLIC_URL's host 'shop.example'"),
    ({"TRUSTED_HOSTS": "covet.app/admin", "PUBLIC_URL": "https://covet.app"}, "is not a host name"),
])
def test_a_wrong_trusted_hosts_stops_start_up_with_the_reason(tmp_path, env, message):
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS") as error:
        load_config(str(tmp_path), env)
    assert message in str(error.value)
