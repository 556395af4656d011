"""Save draft / Submit / Accept over HTTP against the local Stripe fake: guards, Stripe calls, audit, read-only."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from covet.audit.models import AuditLog
from covet.disputes.models import Dispute, DisputeAction
from covet.extensions import db
from tests.conftest import csrf_from


@pytest.fixture
def open_dispute(app, stripe_fake, make_order, make_dispute):
    """An order with a 'product not received' dispute that Stripe (the fake) knows too."""
    stripe_fake.set_stripe_config(app)
    order = make_order()
    remote = stripe_fake.add_dispute(charge=f"ch_remote_{order.id}", amount=order.total_amount, currency="eur",
                                     reason="product_not_received")
    return make_dispute(order, stripe_dispute_id=remote["id"])


def form_of(html: str, form_id: str) -> dict[str, str]:
    """The hidden inputs of one form on the page (csrf, version, one-time key)."""
    block = html[html.index(f'id="{form_id}"'):] if f'id="{form_id}"' in html else html
    block = block[:block.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block))


def evidence_posts(stripe_fake, dispute):
    return stripe_fake.requests_to("POST", f"/v1/disputes/{dispute.stripe_dispute_id}")


def test_save_draft_stages_on_stripe_and_audits(client, login_as, stripe_fake, open_dispute):
    login_as("staff")
    html = client.get(f"/admin/disputes/{open_dispute.id}").text
    fields = form_of(html, "evidence-form")
    response = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                           data={**fields, "intent": "draft", "field-shipping_carrier": "DHL Express",
                                 "field-shipping_tracking_number": "JD014600006281"})
    assert response.status_code == 303
    [sent] = evidence_posts(stripe_fake, open_dispute)
    assert sent.params["submit"] == "false"
    assert sent.params["evidence"]["shipping_carrier"] == "DHL Express"
    assert sent.headers.get("Idempotency-Key", "").startswith(f"dispute-draft:{open_dispute.id}:")
    remote = stripe_fake.get("dispute", open_dispute.stripe_dispute_id)
    assert remote["status"] == "needs_response" and remote["evidence"]["shipping_carrier"] == "DHL Express"
    dispute = db.session.get(Dispute, open_dispute.id)
    db.session.refresh(dispute)
    assert dispute.evidence_draft["fields"]["shipping_tracking_number"] == "JD014600006281"
    assert dispute.staged_at is not None and dispute.submitted_at is None and dispute.has_evidence
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.entity_type == "order",
                                                               AuditLog.entity_id == str(dispute.order_id)))
    assert "order.dispute_evidence_saved" in list(actions)
    page = client.get(f"/admin/orders/{dispute.order_id}").text
    assert "Dispute draft saved" in page  # on the order's timeline


def test_double_click_is_one_stripe_call(client, login_as, stripe_fake, open_dispute):
    login_as("staff")
    fields = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    data = {**fields, "intent": "draft", "field-shipping_carrier": "DHL"}
    first = client.post(f"/admin/disputes/{open_dispute.id}/evidence", data=data)
    second = client.post(f"/admin/disputes/{open_dispute.id}/evidence", data=data)
    assert first.status_code == 303
    # The second send carries the page's old version too: the form's key answers before the version check.
    assert second.status_code == 303
    assert "Already done" in client.get(second.headers["Location"]).text
    assert len(evidence_posts(stripe_fake, open_dispute)) == 1
    assert db.session.scalar(select(db.func.count()).select_from(DisputeAction)) == 1


def test_colleague_save_in_between_is_409_showing_theirs(client, login_as, stripe_fake, open_dispute):
    login_as("staff")
    stale = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    fresh = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    ok = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                     data={**fresh, "intent": "draft", "field-shipping_carrier": "Theirs: DHL"})
    assert ok.status_code == 303
    refused = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                          data={**stale, "intent": "draft", "field-shipping_carrier": "Mine: UPS"})
    assert refused.status_code == 409
    assert "A colleague saved this dispute" in refused.text
    assert "Theirs: DHL" in refused.text and "Mine: UPS" in refused.text  # their version in the form, mine kept
    assert len(evidence_posts(stripe_fake, open_dispute)) == 1


def test_submit_needs_the_box_then_sends_once_and_locks(client, login_as, stripe_fake, open_dispute):
    login_as("staff")
    fields = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    data = {**fields, "intent": "submit", "field-shipping_carrier": "DHL"}
    refused = client.post(f"/admin/disputes/{open_dispute.id}/evidence", data=data)
    assert refused.status_code == 422 and "only once" in refused.text
    assert evidence_posts(stripe_fake, open_dispute) == []
    done = client.post(f"/admin/disputes/{open_dispute.id}/evidence", data={**data, "confirm_submit": "yes"})
    assert done.status_code == 303
    [sent] = evidence_posts(stripe_fake, open_dispute)
    assert sent.params["submit"] == "true"
    remote = stripe_fake.get("dispute", open_dispute.stripe_dispute_id)
    assert remote["status"] == "under_review" and remote["evidence_details"]["submission_count"] == 1
    page = client.get(f"/admin/disputes/{open_dispute.id}").text
    assert 'id="evidence-readonly"' in page and 'id="evidence-form"' not in page and 'id="dispute-accept"' not in page
    again = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                        data={**form_of(page, "dispute-notes"), "version": "99", "idempotency_key": "k" * 20,
                              "intent": "draft"})
    assert again.status_code in (409, 422) and len(evidence_posts(stripe_fake, open_dispute)) == 1


def test_field_over_stripes_limit_is_refused_at_the_field(client, login_as, stripe_fake, open_dispute):
    login_as("staff")
    fields = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    response = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                           data={**fields, "intent": "draft", "field-uncategorized_text": "x" * 20_001})
    assert response.status_code == 422
    assert 'id="error-uncategorized_text"' in response.text and "20,000" in response.text
    assert evidence_posts(stripe_fake, open_dispute) == []
    assert db.session.get(Dispute, open_dispute.id).evidence_draft == {}


def test_stripe_refusal_is_shown_in_words(client, login_as, stripe_fake, open_dispute):
    stripe_fake.close_dispute(open_dispute.stripe_dispute_id, "lost")  # the bank decided meanwhile
    login_as("staff")
    fields = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "evidence-form")
    response = client.post(f"/admin/disputes/{open_dispute.id}/evidence",
                           data={**fields, "intent": "draft", "field-shipping_carrier": "DHL"})
    assert response.status_code == 422
    assert 'id="dispute-error"' in response.text and "Stripe" in response.text
    assert db.session.get(Dispute, open_dispute.id).staged_at is None


def test_accept_needs_reason_and_box_then_closes_on_stripe(client, login_as, stripe_fake, open_dispute):
    login_as("staff")
    fields = form_of(client.get(f"/admin/disputes/{open_dispute.id}").text, "dispute-accept")
    no_reason = client.post(f"/admin/disputes/{open_dispute.id}/accept", data={**fields, "confirm_accept": "yes"})
    assert no_reason.status_code == 422 and 'id="error-accept_reason"' in no_reason.text
    done = client.post(f"/admin/disputes/{open_dispute.id}/accept",
                       data={**fields, "confirm_accept": "yes", "accept_reason": "Parcel lost by the carrier"})
    assert done.status_code == 303
    assert len(stripe_fake.requests_to("POST", f"/v1/disputes/{open_dispute.stripe_dispute_id}/close")) == 1
    assert stripe_fake.get("dispute", open_dispute.stripe_dispute_id)["status"] == "lost"
    dispute = db.session.get(Dispute, open_dispute.id)
    db.session.refresh(dispute)
    assert dispute.accepted_at and dispute.accept_reason == "Parcel lost by the carrier" and dispute.status == "lost"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "order.dispute_accepted"))
    assert entry.after["reason"] == "Parcel lost by the carrier"


def test_merchant_cannot_act_for_staff(client, login_as, stripe_fake, open_dispute, stores):
    login_as("merchant", store=stores[0])
    page = client.get(f"/admin/disputes/{open_dispute.id}")
    assert page.status_code == 200
    assert 'id="evidence-form"' not in page.text and 'id="prepare-evidence"' not in page.text
    csrf = csrf_from(page.text)
    for path in ("evidence", "accept", "prepare"):
        response = client.post(f"/admin/disputes/{open_dispute.id}/{path}",
                               data={"csrf_token": csrf, "version": "1", "idempotency_key": "m" * 20,
                                     "intent": "submit", "confirm_submit": "yes"})
        assert response.status_code in (403, 404)
    assert evidence_posts(stripe_fake, open_dispute) == []


def test_past_deadline_is_read_only(client, login_as, stripe_fake, open_dispute):
    open_dispute.evidence_due_by = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.session.commit()
    login_as("staff")
    page = client.get(f"/admin/disputes/{open_dispute.id}").text
    assert 'id="past-due"' in page and 'id="evidence-form"' not in page


def test_an_upload_while_storage_is_down_is_a_503_that_keeps_nothing(app, client, login_as, stripe_fake,
                                                                     open_dispute, moto_endpoint):
    from covet.disputes.models import DisputeFile
    from tests.disputes.evidence_support import make_pdf
    from tests.media.support import fresh_bucket

    s3 = fresh_bucket(app, moto_endpoint)
    s3.client.delete_bucket(Bucket=s3.bucket)  # the bucket is gone: every put fails
    login_as("staff")
    page = client.get(f"/admin/disputes/{open_dispute.id}").get_data(as_text=True)
    response = client.post(f"/admin/disputes/{open_dispute.id}/files", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "evidence_field": "receipt", "file": (io.BytesIO(make_pdf(1)), "receipt.pdf")})
    assert response.status_code == 503
    assert "could not be stored just now" in response.get_data(as_text=True)
    assert db.session.scalar(select(DisputeFile.id)) is None
