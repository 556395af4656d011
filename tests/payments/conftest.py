"""Payments fixtures: a connected store with stock, Stripe pointed at the local fake."""
import pytest

from covet.audit.services import Actor
from covet.catalog.models import Product, Variant
from covet.stores.models import Store
from tests.notifications.conftest import smtp_sink  # noqa: F401 - shared fixture
from tests.webhooks.support import SECRET


@pytest.fixture
def stripe_app(app, stripe_fake):
    stripe_fake.set_stripe_config(app)
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET
    return app


@pytest.fixture
def shop(db, stripe_app, stripe_fake):
    """A store onboarded on the fake (transfers allowed) with a 5-unit variant at €250.00, 10 % commission."""
    from covet.payments import gateway

    account = gateway.call("/v1/accounts", "post", {"type": "express", "capabilities": {
        "transfers": {"requested": True}, "card_payments": {"requested": True}}}, idempotency_key="acct-test")
    stripe_fake.complete_onboarding(account["id"])
    store = Store(name="Lune", slug="lune", currency="eur", commission_bps=1000, stripe_account_id=account["id"],
                  charges_enabled=True, payouts_enabled=True)
    db.session.add(store)
    db.session.flush()
    product = Product(store_id=store.id, title="Silk Scarf", slug="silk-scarf", status="active")
    db.session.add(product)
    db.session.flush()
    variant = Variant(product_id=product.id, store_id=store.id, sku="SCARF-1", price_amount=25000, currency="eur",
                      stock_on_hand=5)
    db.session.add(variant)
    db.session.commit()
    return variant


@pytest.fixture
def staff_actor(make_user):
    return Actor.for_user(make_user("staff"))
