"""Every Stripe event we received, stored once by its id."""
import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from covet.dbtypes import JSONType, UTCDateTime, enum_check, utcnow
from covet.extensions import db

EVENT_STATUSES = ("pending", "processed", "failed", "ignored")


class StripeEvent(db.Model):
    __tablename__ = "stripe_events"
    __table_args__ = (
        CheckConstraint(enum_check("status", EVENT_STATUSES), name="status_valid"),
        Index("ix_stripe_events_status_received", "status", "received_at"),
        Index("ix_stripe_events_type_received", "type", "received_at"),
        Index("ix_stripe_events_received", "received_at", "id"),  # the admin list, newest first
        Index("ix_stripe_events_order_received", "order_id", "received_at"),  # an order's timeline
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    livemode: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    stripe_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when a handler finds the event's order, for the order's timeline.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
