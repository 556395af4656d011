"""The Stripe test peers themselves: the fake answers like Stripe (idempotency, errors, shapes) and
localstripe really confirms and declines PaymentIntents through the real stripe client."""
import time

import pytest
import requests
import stripe
from flask import Flask

from covet.payments import gateway
from tests.stripe_peers import parse_form, set_stripe_config


def fake_client(fake) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_peer", base_addresses={"api": fake.url}, max_network_retries=0)


def raw_post(fake, path, data, key, account=None):
    headers = {"Authorization": "Bearer sk_test_peer", "Idempotency-Key": key}
    if account:
        headers["Stripe-Account"] = account
    return requests.post(fake.url + path, data=data, headers=headers, timeout=5)


@pytest.fixture
def fake_app(stripe_fake):
    """A bare Flask app whose gateway talks to the fake: the gateway needs config, not a database."""
    app = Flask("stripe-peer-tests")
    stripe_fake.set_stripe_config(app)
    with app.app_context():
        yield app


def onboarded_account(fake) -> str:
    account = raw_post(fake, "/v1/accounts", {"type": "express", "capabilities[transfers][requested]": "true"},
                       f"acct-{time.monotonic_ns()}").json()
    fake.complete_onboarding(account["id"])
    return account["id"]


def transfer_to(fake, account: str, amount: int = 1000) -> dict:
    return gateway.call("/v1/transfers", "post", {"amount": amount, "currency": "eur", "destination": account},
                        idempotency_key=f"tr-{time.monotonic_ns()}")


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


def test_a_transfer_is_reversed_in_parts_then_refused_once_fully_reversed(stripe_fake, fake_app):
    transfer = transfer_to(stripe_fake, onboarded_account(stripe_fake))
    assert (transfer["amount_reversed"], transfer["reversed"], transfer["reversals"]["total_count"]) == (0, False, 0)
    part = gateway.call(f"/v1/transfers/{transfer['id']}/reversals", "post",
                        {"amount": 400, "metadata": {"dispute": "dp_1"}}, idempotency_key="trr-1")
    assert part["id"].startswith("trr_") and part["object"] == "transfer_reversal"
    assert (part["amount"], part["currency"], part["transfer"], part["metadata"]) == (400, "eur", transfer["id"],
                                                                                   {"dispute": "dp_1"})
    after = gateway.call(f"/v1/transfers/{transfer['id']}")
    assert (after["amount_reversed"], after["reversed"]) == (400, False)
    rest = gateway.call(f"/v1/transfers/{transfer['id']}/reversals", "post", {}, idempotency_key="trr-2")
    assert rest["amount"] == 600 and gateway.call(f"/v1/transfers/{transfer['id']}")["reversed"] is True
    listed = gateway.call(f"/v1/transfers/{transfer['id']}/reversals")
    assert [r["id"] for r in listed["data"]] == [rest["id"], part["id"]]  # newest first, as Stripe lists
    assert gateway.call(f"/v1/transfers/{transfer['id']}/reversals/{part['id']}")["amount"] == 400
    with pytest.raises(gateway.GatewayError) as caught:
        gateway.call(f"/v1/transfers/{transfer['id']}/reversals", "post", {"amount": 1}, idempotency_key="trr-3")
    assert caught.value.status == 400 and "fully reversed" in caught.value.message


def test_reversing_more_than_is_left_is_refused_and_a_retry_replays_the_first_answer(stripe_fake, fake_app):
    transfer = transfer_to(stripe_fake, onboarded_account(stripe_fake))
    path = f"/v1/transfers/{transfer['id']}/reversals"
    first = gateway.call(path, "post", {"amount": 700}, idempotency_key="rev-1")
    again = gateway.call(path, "post", {"amount": 700}, idempotency_key="rev-1")  # a lost answer, retried
    assert again["id"] == first["id"] and len(stripe_fake.objects_of("transfer_reversal")) == 1
    too_much = raw_post(stripe_fake, path, {"amount": "400"}, "rev-2")
    error = too_much.json()["error"]
    assert too_much.status_code == 400 and (error["type"], error["param"]) == ("invalid_request_error", "amount")
    assert "(400)" in error["message"] and "(300)" in error["message"]
    assert stripe_fake.get("transfer", transfer["id"])["amount_reversed"] == 700
    with pytest.raises(gateway.GatewayError):
        gateway.call("/v1/transfers/tr_missing/reversals", "post", {}, idempotency_key="rev-3")


def test_a_seller_balance_short_of_the_reversal_is_balance_insufficient(stripe_fake, fake_app):
    account = onboarded_account(stripe_fake)
    transfer = transfer_to(stripe_fake, account)
    stripe_fake.account_balance[account] = 300  # the seller was paid out meanwhile
    with pytest.raises(gateway.GatewayError) as caught:
        gateway.call(f"/v1/transfers/{transfer['id']}/reversals", "post", {"amount": 500}, idempotency_key="b-1")
    assert (caught.value.code, caught.value.status, caught.value.retryable) == ("balance_insufficient", 400, False)
    assert stripe_fake.get("transfer", transfer["id"])["amount_reversed"] == 0
    gateway.call(f"/v1/transfers/{transfer['id']}/reversals", "post", {"amount": 300}, idempotency_key="b-2")
    assert stripe_fake.account_balance[account] == 0
    transfer_to(stripe_fake, account, 250)  # a tracked balance grows with what is transferred in
    assert stripe_fake.account_balance[account] == 250


def test_a_seeded_dispute_has_stripes_shape(stripe_fake, fake_app):
    intent = stripe_fake.add_payment_intent(12000, "eur")
    dispute = stripe_fake.add_dispute(charge=intent["latest_charge"], reason="product_not_received",
                                      due_by=1_900_000_000, metadata={"order": "C-1"})
    assert dispute["id"].startswith("dp_") and dispute["object"] == "dispute" and dispute["livemode"] is False
    assert (dispute["amount"], dispute["currency"], dispute["payment_intent"]) == (12000, "eur", intent["id"])
    assert dispute["evidence"]["receipt"] is None and dispute["evidence"]["uncategorized_text"] is None
    assert dispute["evidence_details"] == {"due_by": 1_900_000_000, "has_evidence": False, "past_due": False,
                                           "submission_count": 0}
    assert dispute["network_reason_code"] is None and dispute["metadata"] == {"order": "C-1"}
    assert gateway.call(f"/v1/disputes/{dispute['id']}") == dispute
    other = stripe_fake.add_dispute(charge="ch_elsewhere", amount=500, currency="USD")
    assert (other["charge"], other["amount"], other["currency"], other["payment_intent"]) == ("ch_elsewhere", 500,
                                                                                              "usd", None)


def test_evidence_is_staged_then_submitted_once(stripe_fake, fake_app):
    dispute = stripe_fake.add_dispute(charge="ch_1", amount=5000, currency="eur")
    path = f"/v1/disputes/{dispute['id']}"
    staged = gateway.call(path, "post", {"evidence": {"product_description": "Silk scarf", "shipping_carrier": "UPS"},
                                         "submit": "false"}, idempotency_key="ev-1")
    assert staged["status"] == "needs_response" and staged["evidence"]["product_description"] == "Silk scarf"
    assert (staged["evidence_details"]["has_evidence"], staged["evidence_details"]["submission_count"]) == (True, 0)
    submitted = gateway.call(path, "post", {"evidence": {"shipping_tracking_number": "1Z999"}}, idempotency_key="ev-2")
    assert submitted["status"] == "under_review" and submitted["evidence_details"]["submission_count"] == 1
    assert submitted["evidence"]["shipping_carrier"] == "UPS"  # staged fields stay
    replayed = gateway.call(path, "post", {"evidence": {"shipping_tracking_number": "1Z999"}}, idempotency_key="ev-2")
    assert replayed == submitted  # the retry of a lost answer is not refused as "already submitted"
    with pytest.raises(gateway.GatewayError) as caught:
        gateway.call(path, "post", {"evidence": {"uncategorized_text": "more"}}, idempotency_key="ev-3")
    assert caught.value.status == 400 and "already been submitted" in caught.value.message
    tagged = gateway.call(path, "post", {"metadata": {"covet_case": "7"}}, idempotency_key="ev-4")
    assert tagged["metadata"] == {"covet_case": "7"} and tagged["evidence_details"]["submission_count"] == 1
    inquiry = stripe_fake.add_dispute(charge="ch_2", amount=100, currency="eur", status="warning_needs_response")
    answered = gateway.call(f"/v1/disputes/{inquiry['id']}", "post", {"submit": "true"}, idempotency_key="ev-5")
    assert answered["status"] == "warning_under_review"


def test_evidence_is_refused_like_stripe_and_refusals_are_not_saved_for_a_key(stripe_fake):
    dispute = stripe_fake.add_dispute(charge="ch_1", amount=5000, currency="eur")
    path = f"/v1/disputes/{dispute['id']}"
    missing_file = raw_post(stripe_fake, path, {"evidence[receipt]": "file_nope"}, "k-1").json()["error"]
    assert (missing_file["code"], missing_file["param"]) == ("resource_missing", "evidence[receipt]")
    unknown = raw_post(stripe_fake, path, {"evidence[mood]": "calm"}, "k-1").json()["error"]
    assert (unknown["code"], unknown["param"]) == ("parameter_unknown", "evidence[mood]")
    too_long = raw_post(stripe_fake, path, {"evidence[uncategorized_text]": "x" * 20_001}, "k-1")
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "evidence[uncategorized_text]"
    fields = ["access_activity_log", "cancellation_rebuttal", "duplicate_charge_explanation", "product_description",
              "refund_policy_disclosure", "refund_refusal_explanation", "uncategorized_text",
              "cancellation_policy_disclosure"]
    over_total = raw_post(stripe_fake, path, {f"evidence[{f}]": "y" * 19_000 for f in fields}, "k-1")
    assert over_total.status_code == 400 and "150,000" in over_total.json()["error"]["message"]
    bad_flag = raw_post(stripe_fake, path, {"submit": "yes"}, "k-1")
    assert bad_flag.status_code == 400 and bad_flag.json()["error"]["param"] == "submit"
    assert stripe_fake.get("dispute", dispute["id"])["evidence_details"]["has_evidence"] is False
    fine = raw_post(stripe_fake, path, {"evidence[uncategorized_text]": "x" * 20_000}, "k-1")  # the key still works
    assert fine.status_code == 200 and fine.json()["status"] == "under_review"


def test_accepting_closes_as_lost_and_closed_disputes_refuse_changes(stripe_fake, fake_app):
    dispute = stripe_fake.add_dispute(charge="ch_1", amount=5000, currency="eur")
    accepted = gateway.call(f"/v1/disputes/{dispute['id']}/close", "post", idempotency_key="c-1")
    assert accepted["status"] == "lost"
    again = raw_post(stripe_fake, f"/v1/disputes/{dispute['id']}/close", {}, "c-2")
    assert again.status_code == 400 and "already closed" in again.json()["error"]["message"]
    inquiry = stripe_fake.add_dispute(charge="ch_2", amount=100, currency="eur", status="warning_needs_response")
    assert gateway.call(f"/v1/disputes/{inquiry['id']}/close", "post", idempotency_key="c-3")["status"] == \
        "warning_closed"
    decided = stripe_fake.add_dispute(charge="ch_3", amount=100, currency="eur")
    gateway.call(f"/v1/disputes/{decided['id']}", "post", {"evidence": {"customer_name": "Ana"}},
                 idempotency_key="c-4")
    assert stripe_fake.close_dispute(decided["id"], "won")["status"] == "won"
    refused = raw_post(stripe_fake, f"/v1/disputes/{decided['id']}", {"evidence[customer_name]": "Ana B"}, "c-5")
    assert refused.status_code == 400 and "already closed" in refused.json()["error"]["message"]
    under_review = stripe_fake.add_dispute(charge="ch_4", amount=100, currency="eur", status="under_review")
    assert raw_post(stripe_fake, f"/v1/disputes/{under_review['id']}/close", {}, "c-6").status_code == 400
    with pytest.raises(ValueError):
        stripe_fake.close_dispute(decided["id"], "lost")


def test_late_evidence_is_taken_but_marked_past_due_and_unanswerable_disputes_refuse_it(stripe_fake):
    late = stripe_fake.add_dispute(charge="ch_1", amount=5000, currency="eur", due_by=int(time.time()) - 60)
    answer = raw_post(stripe_fake, f"/v1/disputes/{late['id']}", {"evidence[customer_name]": "Ana"}, "l-1").json()
    assert answer["status"] == "under_review" and answer["evidence_details"]["past_due"] is True
    no_response = stripe_fake.add_dispute(charge="ch_2", amount=5000, currency="eur", due_by=0)
    refused = raw_post(stripe_fake, f"/v1/disputes/{no_response['id']}", {"evidence[customer_name]": "Ana"}, "l-2")
    assert refused.status_code == 400 and stripe_fake.get("dispute", no_response["id"])["status"] == "needs_response"


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def multipart_post(fake, fields: dict, files: dict | None = None, key: str = "up-raw"):
    return requests.post(f"{fake.url}/v1/files", data=fields, files=files, timeout=5,
                         headers={"Authorization": "Bearer sk_test_peer", "Idempotency-Key": key})


def test_an_upload_goes_to_the_files_base_is_kept_and_a_retry_replays_it(stripe_fake, fake_app):
    fake_app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens: only the files base may be used
    fake_app.extensions.pop("covet_stripe", None)
    uploaded = gateway.upload_file(PDF, "receipt C-1001.pdf", "dispute_evidence", idempotency_key="up-1")
    assert uploaded["id"].startswith("file_") and uploaded["object"] == "file"
    assert (uploaded["purpose"], uploaded["filename"], uploaded["size"], uploaded["type"], uploaded["url"]) == \
        ("dispute_evidence", "receipt C-1001.pdf", len(PDF), "pdf", None)
    assert stripe_fake.file_contents[uploaded["id"]] == PDF
    [request] = stripe_fake.requests_to("POST", "/v1/files")
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    again = gateway.upload_file(PDF, "receipt C-1001.pdf", "dispute_evidence", idempotency_key="up-1")
    assert again == uploaded and len(stripe_fake.objects_of("file")) == 1
    with pytest.raises(gateway.GatewayError) as caught:  # same key, other bytes
        gateway.upload_file(PNG, "receipt C-1001.pdf", "dispute_evidence", idempotency_key="up-1")
    assert caught.value.status == 400
    fake_app.config["STRIPE_API_BASE"] = stripe_fake.url
    fake_app.extensions.pop("covet_stripe", None)
    assert gateway.call(f"/v1/files/{uploaded['id']}") == uploaded
    dispute = stripe_fake.add_dispute(charge="ch_1", amount=5000, currency="eur")
    answered = gateway.call(f"/v1/disputes/{dispute['id']}", "post", {"evidence": {"receipt": uploaded["id"]}},
                            idempotency_key="ev-file")
    assert answered["evidence"]["receipt"] == uploaded["id"] and answered["status"] == "under_review"


def test_uploads_are_refused_like_stripe(stripe_fake, fake_app):
    with pytest.raises(gateway.GatewayError) as caught:
        gateway.upload_file(PDF, "a.pdf", "holiday_photos", idempotency_key="r-1")
    assert caught.value.status == 400 and "purpose" in caught.value.message
    text = multipart_post(stripe_fake, {"purpose": "dispute_evidence"}, {"file": ("notes.txt", b"hello")}, "r-2")
    assert text.status_code == 400 and text.json()["error"]["param"] == "file"
    disguised = multipart_post(stripe_fake, {"purpose": "dispute_evidence"}, {"file": ("scan.pdf", b"hello")}, "r-3")
    assert disguised.status_code == 400  # named .pdf, but not a PDF inside
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    too_big = multipart_post(stripe_fake, {"purpose": "dispute_evidence"}, {"file": ("photo.png", big)}, "r-4")
    assert too_big.status_code == 400 and "5 MB" in too_big.json()["error"]["message"]
    missing = multipart_post(stripe_fake, {"purpose": "dispute_evidence"}, None, "r-5").json()["error"]
    assert (missing["code"], missing["param"]) == ("parameter_missing", "file")
    jpeg = multipart_post(stripe_fake, {"purpose": "dispute_evidence"}, {"file": ("photo.pdf", b"\xff\xd8\xff" + PDF)},
                          "r-6").json()
    assert jpeg["type"] == "jpg"  # the bytes decide, not the name
    identity = gateway.upload_file(PNG, "id.png", "identity_document", idempotency_key="r-7")
    dispute = stripe_fake.add_dispute(charge="ch_1", amount=5000, currency="eur")
    refused = raw_post(stripe_fake, f"/v1/disputes/{dispute['id']}", {"evidence[receipt]": identity["id"]}, "r-8")
    assert refused.json()["error"]["code"] == "resource_missing"  # only dispute_evidence files are evidence
    assert raw_post(stripe_fake, "/v1/files", {"purpose": "dispute_evidence", "file": "x"}, "r-9").status_code == 400
    assert len(stripe_fake.objects_of("file")) == 2
