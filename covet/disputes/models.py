"""Chargebacks and the evidence we answer them with."""
import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from covet.dbtypes import Currency, JSONType, TimestampMixin, UTCDateTime, enum_check, utcnow
from covet.extensions import db

# Stripe's dispute statuses.
DISPUTE_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                    "under_review", "won", "lost", "prevented")


class Dispute(TimestampMixin, db.Model):
    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(enum_check("status", DISPUTE_STATUSES), name="status_valid"),
        Index("ix_disputes_status_due", "status", "evidence_due_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    charge_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    evidence_due_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    evidence_draft: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32))
    # Stripe's own `created` of the last applied object: older payloads never overwrite newer state.
    stripe_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    order = relationship("Order")
    files = relationship("DisputeFile", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class DisputeFile(db.Model):
    __tablename__ = "dispute_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False, index=True)
    stripe_file_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    evidence_field: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
