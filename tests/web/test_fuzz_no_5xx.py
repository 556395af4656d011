"""No input gives a 500: hostile values in path segments, query args, form fields and JSON bodies, on every
route of the URL map, for every role.

First a sweep (every rule × method × role, each parameter name we read set to a hostile value), then
Hypothesis mixing them at random. Excluded: the Stripe webhook's body (signed bytes, tested in
tests/webhooks), sign-out (it would end the session the rest of the run relies on) and the mounted
rq-dashboard (third-party code).
"""
from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from covet.web.converters import MAX_ID
from tests.conftest import csrf_from, login

ROLES = ("admin", "staff", "merchant", None)
SKIPPED_ENDPOINTS = {"accounts.logout", "webhooks.stripe_webhook", "static"}
SKIPPED_PREFIXES = ("rq_dashboard.",)


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


HOSTILE = [
    "9" * 30, str(MAX_ID + 1), str(2**63), "-1", "0", "1", "²", "٣٤", "１２", "1e400", "-1e400", "nan", "inf",
    "\x00", "a\x00b", "\x1b[31m", "\r\nX-Injected: 1", "/\r\n/evil.example", "\\\\evil.example", "//evil.example",
    "x" * 5000, "9" * 5000, "", " ", "%00", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --",
    "2026-02-30", "9999-12-31", "0001-01-01", "2026-12-01T00:00:00", "me", "mine", "all", "true", "on",
    _cursor(["2026-12-01T00:00:00", 1]), _cursor(["2026-12-01", MAX_ID + 1]), _cursor([1e308, 2**70]),
    _cursor(["x", "y"]), _cursor({"a": 1}), base64.urlsafe_b64encode(b"[1e400, 1]").decode(), "!!notbase64!!",
]
# The sweep's share (each one sent everywhere); Hypothesis draws from all of HOSTILE.
SWEEP = ["9" * 30, str(MAX_ID + 1), "-1", "²", "٣٤", "1e400", "\r\nX-Injected: 1", "x" * 5000, "9" * 5000, "",
         "../../etc/passwd", "9999-12-31", "me", _cursor(["2026-12-01", MAX_ID + 1]), _cursor([1e308, 2**70]),
         "a\x00b"]
# Every query arg and form field the views read (grep args.get / form.get / templates' name=).
FIELDS = [
    "accept_reason", "action", "active", "add", "after", "alt_text", "amount", "assignee", "barcode", "base_price",
    "body", "brand", "carrier", "compare_at", "confirm", "confirm_accept", "confirm_delete", "confirm_submit",
    "context", "currency", "description", "due_before", "email", "evidence_field", "expected_assignee",
    "field-customer_name", "file-receipt", "from", "fulfilment", "idempotency_key", "intent", "max", "min", "move",
    "name", "next", "note", "operation", "option_name", "option_values", "order", "order_ids", "orig_price",
    "password", "payment", "per", "price", "product_type", "q", "quantity", "quantity-1", "query", "reason", "remove",
    "restock-1", "role", "scope", "since", "sku", "slug", "sort", "state", "status", "stock", "stock_reason",
    "store", "store_id", "tab", "tag", "tags", "title", "to", "tracking_number", "type", "value", "variant_id",
    "variant_ids", "version", "view", "weight", "current_password", "new_password", "confirm_password",
]
JSON_BODIES = [
    [], "a string", 12, None, True, {"items": "x"}, {"items": {"variant_id": 1}}, {"items": [1, "x", None]},
    {"items": [{"variant_id": 2**63, "quantity": 2**63}]}, {"items": [{"variant_id": True, "quantity": True}]},
    {"items": [{"variant_id": "1", "quantity": "1"}], "email": ["a@b.c"], "currency": {"x": 1}},
    {"email": "a\x00@example.test", "items": [{"variant_id": 1}]}, {"filename": ["a.png"], "content_type": ["x"]},
    {"filename": "a.png", "content_type": ["image/png"], "size": 10}, {"filename": "a\x00.png", "size": 1e308},
    {"filename": "a.png", "content_type": "image/png", "size": 2**70}, {"\x00": 1},
]
DEEP_JSON = "[" * 100_000 + "]" * 100_000  # deeper than json.loads recurses


def _rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS or rule.endpoint.startswith(SKIPPED_PREFIXES):
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method


def _path(rule, segment) -> str:
    """The rule's path with each `<int:…>` set to an id and every other segment to `segment`."""
    def fill(match):
        return str(segment if isinstance(segment, int) else 1) if match.group(1) == "int" else \
            (segment if isinstance(segment, str) else "x")
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?[^>]+>", fill, rule.rule)


def _quoted(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


@pytest.fixture
def fuzz_world(app, db, make_store, make_user):
    """Something real behind id 1 on the main routes, and one signed-in client per role (None: anonymous)."""
    from covet.catalog.models import Product, Variant
    from covet.orders.models import Order, OrderLine

    store = make_store("fuzz", currency="eur")
    product = Product(store_id=store.id, title="Fuzz Bag", slug="fuzz-bag", status="active")
    db.session.add(product)
    db.session.flush()
    variant = Variant(product_id=product.id, store_id=store.id, sku="FUZZ-1", price_amount=2500, currency="eur",
                      stock_on_hand=3)
    db.session.add(variant)
    db.session.flush()
    order = Order(number="CV-FUZZ", email="fuzz@example.test", currency="eur", payment_status="paid",
                  total_amount=2500, subtotal_amount=2500)
    order.lines.append(OrderLine(store_id=store.id, variant_id=variant.id, product_title="Fuzz Bag",
                                 variant_title="", sku="FUZZ-1", quantity=1, unit_price_amount=2500))
    db.session.add(order)
    db.session.commit()
    clients = {}
    for role in ROLES:
        client = app.test_client()
        if role:
            user = make_user(role, store=store if role == "merchant" else None)
            assert login(client, user.email).status_code == 303
        page = client.get("/admin/" if role else "/admin/login").get_data(as_text=True)
        clients[role] = (client, csrf_from(page))
    return clients


def _send(clients, role, rule, method, segment, args, form=None, json_body=None, raw_json=None, htmx=False):
    client, token = clients[role]
    path = _quoted(_path(rule, segment))
    headers = {"HX-Request": "true"} if htmx else {}
    if method == "GET":
        return client.get(path, query_string=args, headers=headers).status_code
    if raw_json is not None or json_body is not None:
        data = raw_json if raw_json is not None else json.dumps(json_body)
        return client.post(path, query_string=args, data=data, headers={**headers, "X-CSRFToken": token},
                           content_type="application/json").status_code
    return client.post(path, query_string=args, data={**(form or {}), "csrf_token": token},
                       headers=headers).status_code


def _allowed(app, rule, status: int) -> bool:
    # Checkout answers 503 by design while Stripe is not configured (as in this test app).
    payments_off = rule.endpoint == "checkout.checkout_start" and not app.config.get("STRIPE_SECRET_KEY")
    return status < 500 or (payments_off and status == 503)


def _segment(value: str):
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else value


def _fields(value: str, turn: int) -> dict:
    """Every field set to the value; a long value in every fourth field only (which fourth goes round), so that
    a request stays under a few hundred kilobytes and the sweep fast."""
    if len(value) < 100:
        return dict.fromkeys(FIELDS, value)
    return {name: value if position % 4 == turn % 4 else "" for position, name in enumerate(FIELDS)}


@pytest.mark.parametrize("role", ROLES)
def test_the_sweep_never_gets_a_5xx(app, fuzz_world, role):
    """Every rule × method with every field (and path segment) set to each sweep value in turn (the printable
    ones reach the views; the control characters the guard), then JSON bodies of the wrong shape (a third of
    them per rule, in turn)."""
    failures = {}
    for turn, (rule, method) in enumerate(_rules(app)):
        for index, value in enumerate(SWEEP):
            fields = _fields(value, turn + index)
            args = fields if method == "GET" else {"next": value, "after": value}  # a POST reads its form
            status = _send(fuzz_world, role, rule, method, _segment(value), args, form=fields, htmx=index % 2)
            if not _allowed(app, rule, status):
                failures[f"{method} {rule.rule} with {value[:30]!r}"] = status
        for json_body in (JSON_BODIES[turn % 3::3] if method == "POST" else ()):
            status = _send(fuzz_world, role, rule, method, 1, {}, json_body=json_body)
            if not _allowed(app, rule, status):
                failures[f"{method} {rule.rule} with JSON {str(json_body)[:60]}"] = status
    assert not failures, "\n".join(f"{status}: {request}" for request, status in sorted(failures.items()))


def test_json_nested_deeper_than_the_parser_recurses_is_refused(app, fuzz_world):
    for rule, method in _rules(app):
        if method == "POST" and rule.endpoint in ("checkout.checkout_start", "media.upload_request"):
            assert _send(fuzz_world, "admin", rule, method, 1, {}, raw_json=DEEP_JSON) == 400


hostile_text = st.sampled_from(HOSTILE) | st.text(max_size=30)
hostile_value = hostile_text | st.integers(min_value=-(2**70), max_value=2**70).map(str)


# No example database: a run leaves no .hypothesis/ directory in the checkout.
@settings(max_examples=250, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_hostile_requests_never_get_a_5xx(app, fuzz_world, data):
    rule, method = data.draw(st.sampled_from(sorted(_rules(app), key=lambda r: (r[0].rule, r[1]))), label="rule")
    role = data.draw(st.sampled_from(ROLES), label="role")
    segment = data.draw(st.integers(min_value=0, max_value=MAX_ID) | hostile_text, label="segment")
    args = data.draw(st.dictionaries(st.sampled_from(FIELDS), hostile_value, max_size=5), label="args")
    form, json_body = None, None
    if method == "POST":
        if data.draw(st.booleans(), label="json"):
            json_body = data.draw(st.sampled_from(JSON_BODIES) | st.dictionaries(
                st.sampled_from(FIELDS + ["items", "filename", "content_type", "size"]),
                hostile_value | st.lists(hostile_value, max_size=3) | st.integers(), max_size=5), label="json body")
        else:
            form = data.draw(st.dictionaries(st.sampled_from(FIELDS), hostile_value, max_size=8), label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    status = _send(fuzz_world, role, rule, method, segment, args, form=form, json_body=json_body, htmx=htmx)
    assert _allowed(app, rule, status), f"{method} {rule.rule} as {role}: {status}"
