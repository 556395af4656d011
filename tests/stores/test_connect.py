"""Stripe Connect onboarding from the store page, end to end against the Stripe fake."""
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.stores.models import Store
from tests.conftest import csrf_from, login


def store_page(client, store_id):
    return client.get(f"/admin/stores/{store_id}").get_data(as_text=True)


def press_connect(client, store_id, headers=None):
    csrf = csrf_from(store_page(client, store_id))
    return client.post(f"/admin/stores/{store_id}/connect", data={"csrf_token": csrf}, headers=headers or {})


def audit_count(db, action):
    return db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


def test_onboarding_creates_the_account_once_and_return_syncs_flags(app, db, client, stripe_fake, login_as,
                                                                    htmx_headers):
    stripe_fake.set_stripe_config(app)
    store = login_as("merchant").store
    page = store_page(client, store.id)
    assert "Set up payouts with Stripe" in page and "Not connected" in page
    first = press_connect(client, store.id)
    assert first.status_code == 303 and first.headers["Location"].startswith(f"{stripe_fake.url}/setup/e/acct_")
    again = press_connect(client, store.id, htmx_headers)
    assert again.status_code == 204 and again.headers["HX-Redirect"] != first.headers["Location"]
    db.session.expire_all()
    account_id = db.session.get(Store, store.id).stripe_account_id
    assert [a["id"] for a in stripe_fake.objects_of("account")] == [account_id]
    creates = stripe_fake.requests_to("POST", "/v1/accounts")
    assert [r.headers["Idempotency-Key"] for r in creates] == [f"connect-account:{store.id}"]
    assert creates[0].params["capabilities"]["transfers"] == {"requested": "true"}
    link = stripe_fake.requests_to("POST", "/v1/account_links")[-1].params
    assert (link["account"], link["type"]) == (account_id, "account_onboarding")
    assert link["return_url"].endswith(f"/admin/stores/{store.id}/connect/return")
    assert link["refresh_url"].endswith(f"/admin/stores/{store.id}/connect/refresh")

    back = requests.get(again.headers["HX-Redirect"], allow_redirects=False, timeout=5).headers["Location"]
    assert back == link["return_url"]
    stripe_fake.complete_onboarding(account_id)
    returned = client.get(urlsplit(back).path)
    assert returned.status_code == 303 and returned.headers["Location"].endswith(f"/admin/stores/{store.id}")
    db.session.expire_all()
    synced = db.session.get(Store, store.id)
    assert (synced.charges_enabled, synced.payouts_enabled, synced.details_submitted) == (True, True, True)
    page = store_page(client, store.id)
    assert "Charges &amp; payouts enabled" in page and "Set up payouts with Stripe" not in page
    assert audit_count(db, "store.connect_account_created") == 1
    assert audit_count(db, "store.connect_onboarding_started") == 2
    assert audit_count(db, "store.connect_synced") == 1


def test_a_lost_account_id_gets_the_same_account_back_from_stripe(app, db, client, stripe_fake, login_as):
    """Same idempotency key, same params: a second create (a race, a crash before commit) replays the first."""
    stripe_fake.set_stripe_config(app)
    login_as("staff")
    store = Store(name="Lune", slug="lune", currency="eur")
    db.session.add(store)
    db.session.commit()
    assert press_connect(client, store.id).status_code == 303
    first_id = db.session.get(Store, store.id).stripe_account_id
    db.session.get(Store, store.id).stripe_account_id = None
    db.session.commit()
    assert press_connect(client, store.id).status_code == 303
    db.session.expire_all()
    assert db.session.get(Store, store.id).stripe_account_id == first_id
    assert len(stripe_fake.objects_of("account")) == 1
    assert len(stripe_fake.requests_to("POST", "/v1/accounts")) == 2


def test_a_used_link_leads_to_refresh_and_a_new_link(app, client, stripe_fake, login_as):
    stripe_fake.set_stripe_config(app)
    store = login_as("merchant").store
    link_url = press_connect(client, store.id).headers["Location"]
    requests.get(link_url, allow_redirects=False, timeout=5)
    refresh = requests.get(link_url, allow_redirects=False, timeout=5).headers["Location"]
    assert refresh.endswith(f"/admin/stores/{store.id}/connect/refresh")
    onward = client.get(urlsplit(refresh).path)
    assert onward.status_code == 303 and onward.headers["Location"] not in (link_url, refresh)
    assert onward.headers["Location"].startswith(f"{stripe_fake.url}/setup/e/")
    assert len(stripe_fake.objects_of("account")) == 1


def test_return_before_onboarding_is_finished_says_so(app, client, stripe_fake, login_as):
    stripe_fake.set_stripe_config(app)
    store = login_as("merchant").store
    press_connect(client, store.id)
    page = client.get(f"/admin/stores/{store.id}/connect/return", follow_redirects=True).get_data(as_text=True)
    assert "Stripe: Onboarding incomplete." in page and "Continue Stripe setup" in page


def test_merchant_cannot_reach_another_stores_connect_endpoints(app, client, stripe_fake, make_user, make_store):
    stripe_fake.set_stripe_config(app)
    own, other = make_store("own"), make_store("other")
    merchant = make_user("merchant", store=own)
    login(client, merchant.email)
    csrf = csrf_from(store_page(client, own.id))
    assert client.get(f"/admin/stores/{other.id}").status_code == 404
    assert client.post(f"/admin/stores/{other.id}/connect", data={"csrf_token": csrf}).status_code == 404
    assert client.get(f"/admin/stores/{other.id}/connect/return").status_code == 404
    assert client.get(f"/admin/stores/{other.id}/connect/refresh").status_code == 404
    assert stripe_fake.requests == []


def test_without_a_stripe_key_the_page_says_payments_are_disabled(app, client, login_as, htmx_headers):
    app.config["STRIPE_SECRET_KEY"] = None
    store = login_as("merchant").store
    page = store_page(client, store.id)
    assert 'id="connect-disabled"' in page and "Payments are disabled" in page and 'id="connect-button"' not in page
    plain = press_connect(client, store.id)
    assert plain.status_code == 422 and "Payments are disabled" in plain.get_data(as_text=True)
    fragment = press_connect(client, store.id, htmx_headers).get_data(as_text=True)
    assert "<html" not in fragment and 'id="store-connect"' in fragment and "Payments are disabled" in fragment


def test_a_stripe_refusal_is_shown_not_swallowed(app, db, client, stripe_fake, login_as, htmx_headers):
    stripe_fake.set_stripe_config(app)
    login_as("admin")
    store = Store(name="Gone", slug="gone", stripe_account_id="acct_deleted")  # the account no longer exists
    db.session.add(store)
    db.session.commit()
    plain = press_connect(client, store.id)
    assert plain.status_code == 502 and "No such account" in plain.get_data(as_text=True)
    htmx = press_connect(client, store.id, htmx_headers)
    assert htmx.status_code == 502 and "No such account" in htmx.headers["HX-Trigger"]
