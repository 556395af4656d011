"""POST /webhooks/stripe: signed by Stripe or refused, stored once, processed by a job."""
import json
import time

from sqlalchemy import func, select

from covet.jobs.embedded import wait_for_embedded_jobs
from covet.jobs.models import JobOutbox
from covet.webhooks.models import StripeEvent
from tests.webhooks.support import event, post, signed


def stored(db):
    return db.session.scalar(select(func.count()).select_from(StripeEvent))


def test_signed_event_is_stored_and_acknowledged(client, db):
    body = event("customer.created", {"id": "cus_1", "object": "customer"})
    response = post(client, body)
    assert response.status_code == 200 and response.get_json() == {"received": True, "duplicate": False}
    wait_for_embedded_jobs()
    row = db.session.scalar(select(StripeEvent))
    assert row.event_id == body["id"] and row.type == "customer.created" and row.payload["data"]["object"]["id"]
    db.session.refresh(row)
    assert row.status in ("ignored", "pending")  # unknown types are kept and acknowledged


def test_wrong_secret_old_timestamp_and_tampered_body_are_refused(client, db):
    body = event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    payload, headers = signed(body, secret="whsec_someone_else")
    assert client.post("/webhooks/stripe", data=payload, headers=headers).status_code == 400
    payload, headers = signed(body, timestamp=int(time.time()) - 600)
    assert client.post("/webhooks/stripe", data=payload, headers=headers).status_code == 400
    payload, headers = signed(body)
    tampered = payload.replace(b'"pi_1"', b'"pi_2"')
    assert client.post("/webhooks/stripe", data=tampered, headers=headers).status_code == 400
    assert client.post("/webhooks/stripe", data=payload).status_code == 400  # no signature at all
    assert stored(db) == 0


def test_duplicate_delivery_is_acknowledged_and_ignored(client, db):
    body = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert post(client, body).status_code == 200
    wait_for_embedded_jobs()
    jobs_before = db.session.scalar(select(func.count()).select_from(JobOutbox))
    again = post(client, body)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert stored(db) == 1 and db.session.scalar(select(func.count()).select_from(JobOutbox)) == jobs_before


def test_oversized_body_is_413(client, db):
    body = event("customer.created", {"id": "cus_1", "object": "customer", "blob": "x" * 300_000})
    assert post(client, body).status_code == 413 and stored(db) == 0


def test_without_a_webhook_secret_there_is_no_endpoint(app, client, db):
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    assert post(client, event("customer.created", {"id": "cus_1"})).status_code == 404


def test_no_csrf_token_needed_and_the_answer_is_json(client, db):
    response = post(client, event("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200 and json.loads(response.get_data()) == {"received": True, "duplicate": False}
