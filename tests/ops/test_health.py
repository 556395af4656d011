"""Health endpoints report each dependency honestly."""
from tests.conftest import REDIS_URL, build_app


def test_health_is_ok(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_detailed_reports_each_dependency_with_latency(client):
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


def test_verbose_adds_memory(client):
    memory = client.get("/api/health/detailed?verbose=true").get_json()["memory"]
    assert memory["rss_bytes"] > 10_000_000 and memory["python_allocated_blocks"] > 0


def test_database_down_answers_503(tmp_path):
    app = build_app("postgresql://postgres@127.0.0.1:1/covet?connect_timeout=1", tmp_path)
    body = app.test_client().get("/api/health/detailed")
    assert body.status_code == 503
    data = body.get_json()
    assert data["failing"] == ["database"] and data["checks"]["database"]["status"] == "down"
    assert data["checks"]["database"]["detail"]


def test_redis_down_answers_503(tmp_path, database_url, monkeypatch):
    app = build_app(database_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/api/health/detailed")
    assert response.status_code == 503 and "redis" in response.get_json()["failing"]


def test_stripe_key_without_webhook_secret_is_reported(tmp_path, database_url):
    app = build_app(database_url, tmp_path, STRIPE_SECRET_KEY="sk_test_123")
    check = app.test_client().get("/api/health/detailed").get_json()["checks"]["stripe"]
    assert check["status"] == "down" and "STRIPE_WEBHOOK_SECRET" in check["detail"]
