"""Connect services without HTTP to Covet: syncing an account's flags from any shape Stripe gives us."""
import pytest
import stripe

from covet.errors import NotFoundError
from covet.stores import services


def test_sync_store_account_takes_a_dict_or_a_stripe_object(db, make_store):
    store = make_store("lune", stripe_account_id="acct_1")
    account = {"id": "acct_1", "object": "account", "charges_enabled": True, "payouts_enabled": False,
               "details_submitted": True}
    assert services.sync_store_account(account) is store
    assert (store.charges_enabled, store.payouts_enabled, store.details_submitted) == (True, False, True)
    as_object = stripe.StripeObject.construct_from({**account, "payouts_enabled": True}, "sk_test_x")
    services.sync_store_account(as_object)
    db.session.commit()
    assert store.payouts_enabled and services.connect_status(store) == "enabled"
    assert services.sync_store_account({"id": "acct_unknown", "charges_enabled": True}) is None


def test_refresh_store_account_reads_the_current_account(app, db, make_store, stripe_fake):
    stripe_fake.set_stripe_config(app)
    from covet.payments import gateway

    account = gateway.call("/v1/accounts", "post", {"type": "express"}, idempotency_key="acct-test")
    store = make_store("lune", stripe_account_id=account["id"])
    assert services.refresh_store_account(store.id).charges_enabled is False
    stripe_fake.complete_onboarding(account["id"])
    assert services.refresh_store_account(store.id).charges_enabled is True
    assert services.connect_status(make_store("never")) == "not_connected"
    with pytest.raises(NotFoundError):
        services.refresh_store_account(999999)
