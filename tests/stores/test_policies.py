"""A store's policies: its merchants and staff edit them (audited); other merchants cannot; too long is refused."""
from sqlalchemy import select

from covet.audit.models import AuditLog
from covet.extensions import db
from covet.stores.models import Store
from tests.conftest import csrf_from


def test_merchant_saves_their_store_policies(client, login_as, make_store):
    store = make_store("lune")
    login_as("merchant", store=store)
    csrf = csrf_from(client.get(f"/admin/stores/{store.id}").text)
    response = client.post(f"/admin/stores/{store.id}/policies",
                           data={"csrf_token": csrf, "refund_policy": "30 days, unworn.", "shipping_policy": "",
                                 "cancellation_policy": "Until it ships."})
    assert response.status_code == 303
    db.session.expire_all()
    saved = db.session.get(Store, store.id)
    assert (saved.refund_policy, saved.shipping_policy, saved.cancellation_policy) == \
        ("30 days, unworn.", None, "Until it ships.")
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "store.policies_updated"))
    assert entry.after == {"refund_policy": "30 days, unworn.", "cancellation_policy": "Until it ships."}
    assert "30 days, unworn." in client.get(f"/admin/stores/{store.id}").text


def test_too_long_is_refused_whole_and_other_stores_are_not_found(client, login_as, make_store):
    mine, other = make_store("lune"), make_store("noor")
    login_as("merchant", store=mine)
    csrf = csrf_from(client.get(f"/admin/stores/{mine.id}").text)
    response = client.post(f"/admin/stores/{mine.id}/policies",
                           data={"csrf_token": csrf, "refund_policy": "ok", "shipping_policy": "x" * 5001})
    assert response.status_code == 422 and 'id="error-shipping_policy"' in response.text
    assert "x" * 5001 in response.text  # the input is kept
    db.session.expire_all()
    assert db.session.get(Store, mine.id).refund_policy is None
    assert client.post(f"/admin/stores/{other.id}/policies",
                       data={"csrf_token": csrf, "refund_policy": "mine now"}).status_code == 404
