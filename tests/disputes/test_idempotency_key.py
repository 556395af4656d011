"""A dispute form's idempotency key is a token: markup in it is a 422 and nothing reaches Stripe."""
from tests.disputes.test_actions_http import evidence_posts, form_of, open_dispute  # noqa: F401 - fixture


def test_evidence_with_markup_in_its_key_is_refused(client, login_as, stripe_fake, open_dispute):  # noqa: F811
    login_as("staff")
    fields = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    response = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                           data={**fields, "idempotency_key": "k" * 10 + "<svg onload=alert(1)>", "intent": "draft",
                                 "field-shipping_carrier": "DHL Express"})
    assert response.status_code == 422 and "idempotency key is not valid" in response.text
    assert evidence_posts(stripe_fake, open_dispute) == []
