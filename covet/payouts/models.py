"""Payouts from Stripe to a store's bank account."""
import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from covet.dbtypes import Currency, TimestampMixin
from covet.extensions import db


class Payout(TimestampMixin, db.Model):
    __tablename__ = "payouts"
    __table_args__ = (Index("ix_payouts_store_arrival", "store_id", "arrival_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False)
    stripe_payout_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    arrival_date: Mapped[dt.date | None] = mapped_column(Date)
    # Stripe's payout statuses: paid, pending, in_transit, canceled, failed.
    status: Mapped[str] = mapped_column(String(16), nullable=False)

    store = relationship("Store")
