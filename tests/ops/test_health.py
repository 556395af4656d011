"""Health endpoints report each dependency honestly; the details only to an admin or with HEALTH_TOKEN."""
import pytest

from tests.conftest import REDIS_URL, build_app

TOKEN = "health-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_health_is_ok(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_detailed_reports_each_dependency_with_latency(client, login_as):
    login_as("admin")
    response = client.get("/api/health/detailed")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "storage", "stripe", "queues"}
    assert body["checks"]["database"]["status"] == "ok" and body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["storage"]["status"] == "ok"
    assert body["checks"]["stripe"]["status"] == "not_configured"
    expected_redis = "ok" if REDIS_URL else "embedded"
    assert body["checks"]["redis"]["status"] == expected_redis
    assert "memory" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_verbose_adds_memory(app, client):
    app.config["HEALTH_TOKEN"] = TOKEN
    memory = client.get("/api/health/detailed?verbose=true", headers=BEARER).get_json()["memory"]
    assert memory["rss_bytes"] > 10_000_000 and memory["python_allocated_blocks"] > 0


@pytest.mark.parametrize("role", [None, "staff", "merchant"])
def test_anyone_else_sees_only_a_status_per_service(app, client, login_as, role):
    app.config["HEALTH_TOKEN"] = TOKEN
    if role:
        login_as(role)
    for query in ("", "?verbose=true", "?token=wrong", f"?token={TOKEN[:-1]}"):
        response = client.get(f"/api/health/detailed{query}", headers={"Authorization": "Bearer nope"})
        body = response.get_json()
        assert response.status_code == 200 and body["status"] == "ok" and "memory" not in body
        assert {name: set(check) for name, check in body["checks"].items()} == {
            name: {"status"} for name in ("database", "redis", "storage", "stripe", "queues")}
        assert app.config["MEDIA_ROOT"] not in response.get_data(as_text=True)


@pytest.mark.parametrize("how", ["header", "query"])
def test_the_health_token_shows_the_details(app, client, how):
    app.config["HEALTH_TOKEN"] = TOKEN
    response = client.get("/api/health/detailed" + ("" if how == "header" else f"?token={TOKEN}"),
                          headers=BEARER if how == "header" else {})
    assert response.get_json()["checks"]["database"]["latency_ms"] >= 0
    assert client.get("/api/health/detailed?token=").get_json()["checks"]["database"] == {"status": "ok"}


def test_without_a_configured_token_no_token_opens_the_details(app, client):
    app.config["HEALTH_TOKEN"] = None
    assert set(client.get("/api/health/detailed?token=", headers={"Authorization": "Bearer "}
                          ).get_json()["checks"]["database"]) == {"status"}


def test_database_down_answers_503(tmp_path):
    app = build_app("postgresql://postgres@127.0.0.1:1/covet?connect_timeout=1", tmp_path, HEALTH_TOKEN=TOKEN)
    anonymous = app.test_client().get("/api/health/detailed")
    assert anonymous.status_code == 503 and anonymous.get_json()["status"] == "degraded"
    assert anonymous.get_json()["checks"]["database"] == {"status": "down"}  # no error message, no host
    assert "failing" not in anonymous.get_json()
    body = app.test_client().get("/api/health/detailed", headers=BEARER)
    assert body.status_code == 503
    data = body.get_json()
    assert data["failing"] == ["database"] and data["checks"]["database"]["status"] == "down"
    assert data["checks"]["database"]["detail"]


def test_redis_down_answers_503(tmp_path, database_url, monkeypatch):
    app = build_app(database_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0", HEALTH_TOKEN=TOKEN)
    response = app.test_client().get("/api/health/detailed", headers=BEARER)
    assert response.status_code == 503 and "redis" in response.get_json()["failing"]


def test_stripe_key_without_webhook_secret_is_reported(tmp_path, database_url):
    app = build_app(database_url, tmp_path, STRIPE_SECRET_KEY="sk_test_123", HEALTH_TOKEN=TOKEN)
    check = app.test_client().get("/api/health/detailed", headers=BEARER).get_json()["checks"]["stripe"]
    assert check["status"] == "down" and "STRIPE_WEBHOOK_SECRET" in check["detail"]
