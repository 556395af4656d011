"""Shoppers' price-drop alert subscriptions."""
import datetime as dt
import secrets

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from covet.dbtypes import Currency, UTCDateTime, utcnow
from covet.extensions import db


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(32)


class PriceAlert(db.Model):
    __tablename__ = "price_alerts"
    __table_args__ = (
        CheckConstraint("price_when_subscribed >= 0", name="price_not_negative"),
        Index("ix_price_alerts_product_variant", "product_id", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    price_when_subscribed: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    unsubscribe_token: Mapped[str] = mapped_column(String(64), nullable=False, unique=True,
                                                   default=new_unsubscribe_token)
    last_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_notified_price: Mapped[int | None] = mapped_column(Integer)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
