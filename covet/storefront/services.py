"""Shopper-facing use cases."""
from __future__ import annotations

from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.storefront.models import PriceAlert


def alert_by_token(token: str) -> PriceAlert | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(PriceAlert).where(PriceAlert.unsubscribe_token == token))


def unsubscribe_alert(token: str) -> PriceAlert | None:
    """Stop a price-drop alert; the token in the email is the only credential. Repeating it is harmless."""
    alert = alert_by_token(token)
    if alert is not None and alert.unsubscribed_at is None:
        alert.unsubscribed_at = utcnow()
        db.session.commit()
    return alert
