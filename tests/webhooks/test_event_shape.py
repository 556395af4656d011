"""A body signed with our secret but not storable as an event (a string or huge `created`, an id or type
longer than their columns, NUL in a string) is a 400, not a 500 at the INSERT."""
import pytest
from sqlalchemy import func, select

from covet.webhooks.models import StripeEvent
from tests.webhooks.support import event, post, signed


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(StripeEvent))


@pytest.mark.parametrize("changes", [
    {"created": "yesterday"}, {"created": 10**20}, {"created": -1}, {"created": True}, {"created": 1.5},
    {"id": "evt_" + "x" * 252}, {"type": "t" * 101}, {"type": ["charge.refunded"]}, {"id": 12}, {"type": ""},
    {"data": {"object": {"id": "ch_1", "description": "a\x00b"}}},
])
def test_unstorable_signed_events_are_a_400(client, db, changes):
    body = {**event("charge.refunded", {"id": "ch_1", "object": "charge"}), **changes}
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature"}
    assert _count(db) == 0


def test_the_longest_storable_event_is_accepted(client, db):
    body = {**event("charge.refunded", {"id": "ch_1", "object": "charge"}), "id": "evt_" + "x" * 251,
            "type": "t" * 100}
    assert post(client, body).status_code == 200
    assert _count(db) == 1


def test_a_signed_body_nested_too_deep_for_json_is_a_400(client):
    payload, headers = signed(b"[" * 100_000 + b"]" * 100_000)
    assert client.post("/webhooks/stripe", data=payload, headers=headers).status_code == 400
