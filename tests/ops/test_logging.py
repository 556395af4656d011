"""Structured JSON logs with the request id on every line."""


from covet.observability import get_logger, init_sentry


def test_request_line_has_id_user_route_status_duration(app, client, login_as, log_lines):
    user = login_as("staff")
    response = client.get("/admin/stores/", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    line = [entry for entry in log_lines() if entry.get("request_id") == "abc-123"][-1]
    assert line["message"] == "request" and line["route"] == "stores.store_list"
    assert line["user_id"] == user.id and line["status"] == 200 and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["time"].endswith("Z")


def test_request_id_is_generated_when_missing_or_unsafe(client, log_lines):
    generated = client.get("/api/health").headers["X-Request-ID"]
    assert len(generated) == 32
    unsafe = client.get("/api/health", headers={"X-Request-ID": 'x" forged=1 ' + "a" * 80}).headers["X-Request-ID"]
    assert len(unsafe) == 32 and "forged" not in unsafe


def test_every_line_in_a_request_carries_its_id(app, client, make_user, log_lines):
    make_user("staff", email="known@covet.test")
    page = client.get("/admin/login")
    import re

    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/admin/login", data={"email": "known@covet.test", "password": "wrong-password-here",
                                      "csrf_token": token}, headers={"X-Request-ID": "req-login-1"})
    lines = [e for e in log_lines() if e.get("request_id") == "req-login-1"]
    assert {e["message"] for e in lines} >= {"login_failed", "request"}


def test_logger_helper_outside_requests_still_writes_json(log_lines):
    get_logger("covet.test").info("hello", extra={"order_id": 7})
    line = log_lines()[-1]
    assert line["message"] == "hello" and line["order_id"] == 7 and "request_id" not in line


def test_sentry_only_with_a_dsn():
    assert init_sentry(None, "testing") is False
    assert init_sentry("", "testing") is False
