"""Payments, refunds and transfers to stores (Stripe separate charges and transfers)."""
import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from covet.dbtypes import Currency, TimestampMixin, UTCDateTime, enum_check, utcnow
from covet.extensions import db

PAYMENT_STATES = ("pending", "succeeded", "failed", "expired", "cancelled")
# A payment's status only moves up this rank, so Stripe's events converge whatever order they arrive in:
# a late payment_failed never overwrites expired, and nothing overwrites succeeded (money was captured).
PAYMENT_RANK = {"pending": 0, "failed": 1, "expired": 2, "cancelled": 2, "succeeded": 3}
REFUND_STATES = ("pending", "succeeded", "failed", "cancelled")


class Payment(TimestampMixin, db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(enum_check("status", PAYMENT_STATES), name="status_valid"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    failure_message: Mapped[str | None] = mapped_column(String(500))


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(enum_check("status", REFUND_STATES), name="status_valid"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    restock: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Transfer(db.Model):
    """A store's share of an order, sent to its Connect account."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("order_id", "store_id"),
        Index("ix_transfers_status_store", "status", "store_id"),  # waiting/failed ones, per store
        CheckConstraint("amount >= 0 AND commission_amount >= 0", name="amounts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False, index=True)
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    transfer_group: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    commission_amount: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    # Open store debt subtracted from this transfer (Stripe got amount - debt_netted); decided once, before
    # the first attempt, so every retry sends the same amount. None: not decided yet.
    debt_netted: Mapped[int | None] = mapped_column(Integer)
    # pending (booked) → created (Stripe has it); waiting (payouts not enabled yet); failed (Stripe refused:
    # the reason is kept, the sweep and staff's Retry try again); netted (a dispute debt took all of it).
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    # Stripe keeps an idempotent request's error for 24 h: a retry after a refusal uses a new key (…:r<n>).
    refusals: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class RefundReversal(TimestampMixin, db.Model):
    """One store's share of a refund taken back from its transfer (covet/payments/refund_reversals.py).

    pending: booked; done: Stripe reversed it; netted: the transfer was not sent yet, so it was cut instead;
    failed: Stripe unreachable (retried); debt: the seller's balance was short, a StoreDebt holds it."""

    __tablename__ = "refund_reversals"
    __table_args__ = (
        UniqueConstraint("refund_id", "store_id"),
        CheckConstraint(enum_check("status", ("pending", "done", "netted", "failed", "debt")), name="status_valid"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), nullable=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False, index=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    stripe_reversal_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500))


# --- Seller liability for disputes (covet/disputes/liability.py decides; these rows record) ---
REVERSAL_KINDS = ("reverse", "retransfer")
# pending: booked, Stripe not (yet) answered; done: Stripe did it; failed: Stripe refused or was unreachable
# (retried); debt: the seller's balance was short or nothing was transferred yet, so a StoreDebt holds it;
# cancelled: no longer wanted (the dispute was won before this reversal went through).
REVERSAL_STATES = ("pending", "done", "failed", "debt", "cancelled")
DEBT_STATES = ("open", "settled", "cancelled")
DEBT_REASONS = ("balance_insufficient", "not_transferred")


class DisputeLiability(TimestampMixin, db.Model):
    """What Covet knows about a dispute's money: Stripe withdrew the disputed funds, and reinstated them.

    Each fact is set once and never cleared, whatever order the events arrive in."""

    __tablename__ = "dispute_liabilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False,
                                            unique=True)
    funds_withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    funds_reinstated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class TransferReversal(TimestampMixin, db.Model):
    """One store's part of a dispute on Stripe: its transfer reversed, or the reversal given back (re-transfer).

    At most one of each kind per dispute and store (the idempotency key says so); `amount` is fixed when
    the row is booked so a retry always sends Stripe the same request."""

    __tablename__ = "transfer_reversals"
    __table_args__ = (
        UniqueConstraint("dispute_id", "store_id", "kind"),
        CheckConstraint(enum_check("kind", REVERSAL_KINDS), name="kind_valid"),
        CheckConstraint(enum_check("status", REVERSAL_STATES), name="status_valid"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False, index=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="RESTRICT"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending", server_default="pending")
    stripe_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # trr_… or tr_…
    idempotency_key: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    # Bumped after a refusal Stripe saved under the key (a 4xx), so the retry is a new request.
    key_generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(String(500))

    @property
    def stripe_key(self) -> str:
        return self.idempotency_key if not self.key_generation else f"{self.idempotency_key}:{self.key_generation}"


class StoreDebt(db.Model):
    """Money a store owes the platform for a dispute that could not be taken back by a reversal.

    Open debt is netted against the store's next transfers in its currency; a transfer that covers only
    part of a debt splits it (the covered part settled by that transfer, the rest still open)."""

    __tablename__ = "store_debts"
    __table_args__ = (
        CheckConstraint(enum_check("status", DEBT_STATES), name="status_valid"),
        CheckConstraint(enum_check("reason", DEBT_REASONS), name="reason_valid"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_store_debts_open", "store_id", "currency", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id", ondelete="SET NULL"), index=True)
    reversal_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_reversals.id", ondelete="SET NULL"))
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open", server_default="open")
    settled_by_transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
