"""The email outbox: one row per email, unique by idempotency key."""
import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from covet.dbtypes import JSONType, UTCDateTime, enum_check, utcnow
from covet.extensions import db

EMAIL_TEMPLATES = ("order_confirmation", "shipping_notification", "order_cancelled", "dispute_opened",
                   "seller_payout", "price_drop_alert")
EMAIL_STATUSES = ("pending", "sending", "sent", "failed")


class EmailOutbox(db.Model):
    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint(enum_check("status", EMAIL_STATUSES), name="status_valid"),
        Index("ix_email_outbox_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient: Mapped[str] = mapped_column(String(254), nullable=False)
    context: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    # A delivery in progress holds the row until then; a worker killed mid-send lets it go when it passes.
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The order an email is about (confirmation, shipping, cancellation), for the order's timeline.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
