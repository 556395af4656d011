"""A path id beyond the column's range is a 404 on every `<int:>` route, not an "integer out of range" 500."""
import re

import pytest

from covet.web.converters import MAX_ID


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and "<int:" in rule.rule:
            yield rule


def _path(rule, value: int) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", lambda m: str(value) if m.group(0).startswith("<int:") else "x", rule.rule)


def test_every_int_converter_is_the_bounded_one(app):
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert len(rules) >= 20
    assert all(type(c).__name__ == "BoundedIntConverter"
               for r in rules for name, c in r._converters.items() if f"<int:{name}>" in r.rule)


@pytest.mark.parametrize("role", ["admin", "merchant", None])
@pytest.mark.parametrize("value", [MAX_ID + 1, 2**63, 10**30])
def test_huge_ids_answer_404_for_every_role(app, client, login_as, role, value):
    if role:
        login_as(role)
    failures = {}
    for rule in _int_rules(app):
        status = client.get(_path(rule, value)).status_code
        if status >= 500 or status == 200:
            failures[rule.rule] = status
    assert failures == {}


def test_the_largest_id_still_reaches_the_view(app, client, login_as):
    login_as("admin")
    response = client.get(f"/admin/orders/{MAX_ID}")
    assert response.status_code == 404  # matched the route; the view found no such order
    assert client.get(f"/admin/orders/{MAX_ID + 1}").status_code == 404


@pytest.mark.parametrize("since", [str(MAX_ID + 1), str(2**63), "-5"])
def test_queue_polls_ignore_an_impossible_since(client, login_as, htmx_headers, since):
    login_as("admin")
    for path in ("/admin/orders/new", "/admin/orders/since"):
        assert client.get(f"{path}?since={since}", headers=htmx_headers).status_code == 200


def test_the_new_orders_poll_opened_in_a_browser_goes_to_the_queue(client, login_as):
    login_as("admin")
    response = client.get("/admin/orders/new?status=paid")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/admin/orders/")
