"""Redis down (a real redis-server the test owns, stopped): over HTTP, liveness stays 200, readiness names
Redis, sign-in, admin pages, checkout and the Stripe webhook keep working (rate limits fall back to memory),
and the webhook's event, stored meanwhile, is processed once Redis is back."""
import datetime as dt
import threading

import redis
import requests
from rq import Queue, SimpleWorker
from sqlalchemy import select
from werkzeug.serving import make_server

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.webhooks.models import StripeEvent
from covet.webhooks.sweep import requeue_stranded_events
from tests.conftest import PASSWORD, build_app, csrf_from
from tests.payments.conftest import shop, stripe_app  # noqa: F401 - fixtures: a store with stock, Stripe fake
from tests.webhooks.support import SECRET, event, signed

TOKEN = "t" * 32


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    login = session.get(f"{base}/admin/login", timeout=10)
    assert login.status_code == 200, login.text[:300]
    answer = session.post(f"{base}/admin/login", data={"email": email, "password": PASSWORD,
                                                       "csrf_token": csrf_from(login.text)}, timeout=10)
    assert answer.status_code == 200 and "/admin/login" not in answer.url, answer.text[:300]
    return session


def test_with_redis_down_nothing_answers_500_and_the_event_waits(tmp_path, database_url, make_user, shop,  # noqa: F811
                                                               stripe_fake, private_redis):
    served = build_app(database_url, tmp_path / "served", REDIS_URL=private_redis.url, HEALTH_TOKEN=TOKEN,
                       RATELIMIT_STORAGE_URI=private_redis.url)
    stripe_fake.set_stripe_config(served)
    served.config["STRIPE_WEBHOOK_SECRET"] = SECRET
    staff = make_user("staff")
    server, base = _serve(served)
    try:
        assert requests.get(f"{base}/api/health", timeout=10).status_code == 200  # limiter on Redis, working
        private_redis.stop()

        assert requests.get(f"{base}/api/health", timeout=10).status_code == 200  # liveness: the process serves
        ready = requests.get(f"{base}/api/health/detailed", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert ready.status_code == 503 and ready.json()["failing"] == ["redis"]
        session = _sign_in(base, staff.email)
        assert session.get(f"{base}/admin/orders/", timeout=10).status_code == 200
        assert session.get(f"{base}/admin/", timeout=10).status_code == 200
        payload, headers = signed(event("customer.created", {"id": "cus_1", "object": "customer"}))
        assert requests.post(f"{base}/webhooks/stripe", data=payload, headers=headers, timeout=10).status_code == 200
        checkout = requests.post(f"{base}/checkout", timeout=10, json={
            "items": [{"variant_id": shop.id, "quantity": 1}], "email": "shopper@example.com", "currency": "eur"})
        assert checkout.status_code == 200 and checkout.json()["url"]

        private_redis.start()  # back, and empty
        with served.app_context():
            row = db.session.scalar(select(StripeEvent))
            assert row.status == "pending"  # stored and acknowledged; its job could not be pushed
            assert requeue_stranded_events(now=utcnow() + dt.timedelta(minutes=2)) == 1
            connection = redis.Redis.from_url(private_redis.url)
            SimpleWorker([Queue("high", connection=connection)], connection=connection).work(burst=True)
            db.session.expire_all()
            assert db.session.get(StripeEvent, row.id).status == "ignored"  # processed (a type we do not handle)
    finally:
        server.shutdown()
        with served.app_context():
            db.engine.dispose()
