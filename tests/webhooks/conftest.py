"""Webhook fixtures: Stripe configured with a webhook secret, orders with stock to sell."""
import pytest

from covet.catalog.models import Product, Variant
from covet.orders.models import Order, OrderLine
from tests.notifications.conftest import smtp_sink  # noqa: F401 - the SMTP sink fixture, shared
from tests.webhooks.support import SECRET


@pytest.fixture(autouse=True)
def stripe_secret(app):
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET
    yield


@pytest.fixture
def stocked(db, make_store):
    """A variant with 10 in stock in a store that is not connected to Stripe (no API calls)."""
    store = make_store("lune", currency="eur")
    product = Product(store_id=store.id, title="Silk Scarf", slug="silk-scarf", status="active")
    db.session.add(product)
    db.session.flush()
    variant = Variant(product_id=product.id, store_id=store.id, sku="SCARF-1", price_amount=5000, currency="eur",
                      stock_on_hand=10)
    db.session.add(variant)
    db.session.commit()
    return variant


@pytest.fixture
def make_order(db, stocked):
    def make(number="CV-1", quantity=1, email="olivia@example.com"):
        order = Order(number=number, email=email, currency="eur", total_amount=5000 * quantity,
                      subtotal_amount=5000 * quantity, payment_status="unpaid",
                      lines=[OrderLine(store_id=stocked.store_id, variant_id=stocked.id, product_title="Silk Scarf",
                                       variant_title="Default", sku="SCARF-1", unit_price_amount=5000,
                                       quantity=quantity)])
        db.session.add(order)
        db.session.commit()
        return order
    return make
