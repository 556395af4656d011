"""Price-drop alerts: one email per subscriber per price change."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from covet.catalog.models import Product, Variant
from covet.dbtypes import utcnow
from covet.extensions import db
from covet.notifications.services import queue_email
from covet.storefront.models import PriceAlert


def _due(alert: PriceAlert, price: int) -> bool:
    reference = alert.last_notified_price if alert.last_notified_price is not None else alert.price_when_subscribed
    return price < reference


def _email(alert: PriceAlert, product: Product, variant: Variant | None, old: int, new: int, key: str) -> None:
    queue_email("price_drop_alert", alert.email, {
        "product_title": product.title, "variant_title": variant.title if variant else None,
        "old_price": old, "new_price": new, "currency": variant.currency if variant else product.store.currency,
        "product_url": f"/products/{product.slug}",
        "unsubscribe_url": f"/alerts/unsubscribe/{alert.unsubscribe_token}"}, key)
    alert.last_notified_price, alert.last_notified_at = new, utcnow()


def notify_price_drops(product: Product, lowered: dict[int, tuple[int, int]]) -> int:
    """After prices fell (variant id → (old, new)), queue alert emails; runs in the caller's transaction."""
    if not lowered:
        return 0
    alerts = db.session.scalars(select(PriceAlert).where(
        PriceAlert.product_id == product.id, PriceAlert.unsubscribed_at.is_(None),
        or_(PriceAlert.variant_id.is_(None), PriceAlert.variant_id.in_(lowered)))).all()
    sent = 0
    min_price = None
    for alert in alerts:
        if alert.variant_id is not None:
            old, new = lowered[alert.variant_id]
            if _due(alert, new):
                _email(alert, product, db.session.get(Variant, alert.variant_id), old, new,
                       f"price-drop:{alert.id}:variant:{alert.variant_id}:{new}")
                sent += 1
            continue
        if min_price is None:  # product-level alerts follow the cheapest active variant
            db.session.flush()
            min_price = db.session.scalar(select(func.min(Variant.price_amount)).where(
                Variant.product_id == product.id, Variant.active.is_(True)))
        if min_price is not None and _due(alert, min_price):
            old = alert.last_notified_price or alert.price_when_subscribed
            _email(alert, product, None, old, min_price, f"price-drop:{alert.id}:product:{min_price}")
            sent += 1
    return sent
