"""The Stripe test peers themselves: the fake answers like Stripe (idempotency, errors, shapes) and
localstripe really confirms and declines PaymentIntents through the real stripe client."""
import pytest
import requests
import stripe

from tests.stripe_peers import parse_form, set_stripe_config


def fake_client(fake) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_peer", base_addresses={"api": fake.url}, max_network_retries=0)


def raw_post(fake, path, data, key, account=None):
    headers = {"Authorization": "Bearer sk_test_peer", "Idempotency-Key": key}
    if account:
        headers["Stripe-Account"] = account
    return requests.post(fake.url + path, data=data, headers=headers, timeout=5)


def test_form_bodies_parse_back_into_nested_params():
    pairs = [("metadata[order_id]", "7"), ("line_items[1][quantity]", "2"), ("line_items[0][quantity]", "1"),
             ("line_items[0][price_data][unit_amount]", "500"), ("expand[]", "a"), ("expand[]", "b")]
    assert parse_form(pairs) == {"metadata": {"order_id": "7"}, "expand": ["a", "b"],
                                 "line_items": [{"quantity": "1", "price_data": {"unit_amount": "500"}},
                                                {"quantity": "2"}]}


def test_same_key_same_params_replays_the_first_answer(stripe_fake):
    first = raw_post(stripe_fake, "/v1/accounts", {"type": "express", "metadata[store]": "1"}, "acct-1")
    again = raw_post(stripe_fake, "/v1/accounts", {"type": "express", "metadata[store]": "1"}, "acct-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [a["id"] for a in stripe_fake.objects_of("account")] == [first.json()["id"]]
    other_account = raw_post(stripe_fake, "/v1/accounts", {"type": "express", "metadata[store]": "1"}, "acct-1",
                             account="acct_other")
    assert other_account.json()["id"] != first.json()["id"]  # keys are scoped by Stripe-Account


def test_same_key_different_params_is_an_idempotency_error(stripe_fake):
    client = fake_client(stripe_fake)
    client.raw_request("post", "/v1/accounts", type="express", idempotency_key="k-1")
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.raw_request("post", "/v1/accounts", type="express", email="x@example.com", idempotency_key="k-1")
    assert caught.value.http_status == 400 and "k-1" in caught.value.user_message
    assert len(stripe_fake.objects_of("account")) == 1
    recorded = stripe_fake.requests_to("POST", "/v1/accounts")
    assert [r.headers["Idempotency-Key"] for r in recorded] == ["k-1", "k-1"]
    assert recorded[1].params == {"type": "express", "email": "x@example.com"}


def test_validation_errors_are_not_saved_for_a_key(stripe_fake):
    missing = raw_post(stripe_fake, "/v1/transfers", {"amount": "100"}, "tr-1")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "parameter_missing"
    created = raw_post(stripe_fake, "/v1/accounts", {"type": "express", "capabilities[transfers][requested]": "true"},
                       "a-1").json()
    account = stripe_fake.complete_onboarding(created["id"])
    fixed = {"amount": "100", "currency": "eur", "destination": account["id"]}
    done = raw_post(stripe_fake, "/v1/transfers", fixed, "tr-1")  # the corrected request may reuse the key
    assert done.json()["object"] == "transfer" and done.json()["destination"] == account["id"]
    assert raw_post(stripe_fake, "/v1/transfers", {"amount": "100"}, "tr-1").json()["error"]["type"] == \
        "idempotency_error"


def test_checkout_session_shape_expire_and_completion(stripe_fake):
    client = fake_client(stripe_fake)
    session = client.raw_request("post", "/v1/checkout/sessions", mode="payment", metadata={"order_id": 7},
                                 payment_intent_data={"transfer_group": "C-1001"}, idempotency_key="cs-1",
                                 line_items=[{"quantity": 2, "price_data": {"currency": "eur", "unit_amount": 1250,
                                                                            "product_data": {"name": "Scarf"}}}])
    body = client.deserialize(session, api_mode="V1").to_dict()
    assert body["id"].startswith("cs_test_") and body["object"] == "checkout.session" and body["status"] == "open"
    assert (body["amount_total"], body["currency"], body["metadata"]) == (2500, "eur", {"order_id": "7"})
    assert body["payment_intent"] is None and body["url"].startswith("https://checkout.stripe.com/")
    paid = stripe_fake.complete_session(body["id"], email="ana@example.com")
    assert (paid["status"], paid["payment_status"], paid["customer_details"]["email"]) == ("complete", "paid",
                                                                                          "ana@example.com")
    intent = requests.get(f"{stripe_fake.url}/v1/payment_intents/{paid['payment_intent']}",
                          headers={"Authorization": "Bearer sk_test_peer"}, timeout=5).json()
    assert intent["transfer_group"] == "C-1001" and intent["latest_charge"].startswith("ch_")
    refused = raw_post(stripe_fake, f"/v1/checkout/sessions/{body['id']}/expire", {}, "exp-1")
    assert refused.status_code == 400 and "open" in refused.json()["error"]["message"]


def test_refund_beyond_what_remains_is_refused_like_stripe(stripe_fake):
    intent = stripe_fake.add_payment_intent(1000, "eur")
    part = raw_post(stripe_fake, "/v1/refunds", {"payment_intent": intent["id"], "amount": "600"}, "re-1").json()
    assert part["object"] == "refund" and part["status"] == "succeeded" and part["charge"] == intent["latest_charge"]
    too_much = raw_post(stripe_fake, "/v1/refunds", {"payment_intent": intent["id"], "amount": "500"}, "re-2")
    error = too_much.json()["error"]
    assert too_much.status_code == 400 and (error["type"], error["code"]) == ("invalid_request_error",
                                                                              "amount_too_large")


def test_account_link_sends_the_seller_back_once_and_transfers_wait_for_onboarding(stripe_fake):
    account = raw_post(stripe_fake, "/v1/accounts", {"type": "express", "capabilities[transfers][requested]": "true"},
                       "a-1").json()
    refused = raw_post(stripe_fake, "/v1/transfers", {"amount": "5", "currency": "usd", "destination": account["id"]},
                       "t-1").json()["error"]
    assert refused["code"] == "insufficient_capabilities_for_transfer"
    link = raw_post(stripe_fake, "/v1/account_links", {"account": account["id"], "type": "account_onboarding",
                                                      "return_url": "http://app/return",
                                                      "refresh_url": "http://app/refresh"}, "l-1").json()
    assert link["object"] == "account_link" and link["expires_at"] > link["created"]
    first = requests.get(link["url"], allow_redirects=False, timeout=5)
    second = requests.get(link["url"], allow_redirects=False, timeout=5)
    assert (first.headers["Location"], second.headers["Location"]) == ("http://app/return", "http://app/refresh")


def test_localstripe_confirms_visa_and_declines_0341(fresh_localstripe, app):
    set_stripe_config(app, fresh_localstripe)
    from covet.payments import gateway

    intent = gateway.call("/v1/payment_intents", "post", {"amount": 1500, "currency": "eur", "confirm": "true",
                                                           "payment_method": "pm_card_visa"}, idempotency_key="pi-1")
    assert intent["object"] == "payment_intent" and intent["status"] == "succeeded"
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": fresh_localstripe})
    card = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4000000000000341", "exp_month": 12, "exp_year": 2040, "cvc": "123"}})
    declined = client.v1.payment_intents.create(params={"amount": 1500, "currency": "eur", "payment_method": card.id})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.confirm(declined.id)
    assert caught.value.code == "card_declined"
    assert client.v1.payment_intents.retrieve(declined.id).status == "requires_payment_method"
