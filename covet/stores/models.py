"""A seller's store."""
from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from covet.dbtypes import Currency, TimestampMixin
from covet.extensions import db


class Store(TimestampMixin, db.Model):
    __tablename__ = "stores"
    __table_args__ = (
        CheckConstraint("commission_bps BETWEEN 0 AND 10000", name="commission_range"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    slug: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False, default="usd")
    stripe_account_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    charges_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    details_submitted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    commission_bps: Mapped[int] = mapped_column(Integer, nullable=False, default=1000)
    support_email: Mapped[str | None] = mapped_column(String(254))
    # The store's policies as shoppers read them; dispute evidence quotes them (refund, shipping, cancellation).
    refund_policy: Mapped[str | None] = mapped_column(Text)
    shipping_policy: Mapped[str | None] = mapped_column(Text)
    cancellation_policy: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<Store {self.slug}>"
