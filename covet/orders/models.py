"""Customers, orders, their lines, fulfilments, notes and tags."""
import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from covet.dbtypes import Currency, JSONType, TimestampMixin, UTCDateTime, enum_check, utcnow
from covet.extensions import db

PAYMENT_STATUSES = ("unpaid", "pending", "paid", "partially_refunded", "refunded", "failed")
FULFILMENT_STATUSES = ("unfulfilled", "partial", "fulfilled")
ORDER_STATES = ("open", "cancelled", "closed")
CAPTURED = ("paid", "partially_refunded")  # money was taken: shippable, refundable
# An order staff still have to work: paid (or partly refunded), open, not fully shipped, nobody on it.
TAKE_NEXT_WHERE = ("assignee_id IS NULL AND state = 'open' AND payment_status IN ('paid', 'partially_refunded') "
                   "AND fulfilment_status <> 'fulfilled'")
# The queue's "To fulfil" and "Unpaid" tabs. Queries use these very strings (literals, not bound parameters),
# so PostgreSQL can prove them against the partial indexes below even with a generic prepared plan.
TO_FULFIL_WHERE = ("state = 'open' AND payment_status IN ('paid', 'partially_refunded') "
                   "AND fulfilment_status <> 'fulfilled'")
UNPAID_OPEN_WHERE = "state = 'open' AND payment_status IN ('unpaid', 'pending', 'failed')"


class Customer(TimestampMixin, db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class Order(TimestampMixin, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(enum_check("payment_status", PAYMENT_STATUSES), name="payment_status_valid"),
        CheckConstraint(enum_check("fulfilment_status", FULFILMENT_STATUSES), name="fulfilment_status_valid"),
        CheckConstraint(enum_check("state", ORDER_STATES), name="state_valid"),
        CheckConstraint("total_amount >= 0 AND refunded_amount >= 0 AND refunded_amount <= total_amount",
                        name="amounts_valid"),
        # The order queue's filters: each leads with the filtered column and ends with the sort key.
        Index("ix_orders_state_created", "state", "created_at", "id"),
        Index("ix_orders_payment_created", "payment_status", "created_at", "id"),
        Index("ix_orders_fulfilment_created", "fulfilment_status", "created_at", "id"),
        Index("ix_orders_assignee_created", "assignee_id", "created_at", "id"),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_total", "total_amount", "id"),
        Index("ix_orders_email", "email"),
        # Payment + fulfilment together is the queue's most used question ("paid, not shipped").
        Index("ix_orders_payment_fulfilment_created", "payment_status", "fulfilment_status", "created_at", "id"),
        # "Take next" reads only this small partial index, oldest first.
        Index("ix_orders_take_next", "created_at", "id", postgresql_where=text(TAKE_NEXT_WHERE),
              sqlite_where=text(TAKE_NEXT_WHERE)),
        # The dashboard's revenue (today, 30-day chart) by payment time: an index-only range read of paid orders.
        Index("ix_orders_paid_revenue", "paid_at",
              postgresql_where=text("payment_status IN ('paid', 'partially_refunded')"),
              sqlite_where=text("payment_status IN ('paid', 'partially_refunded')"),
              postgresql_include=["id", "currency", "total_amount", "refunded_amount"]),
        # The queue's "To fulfil" and "Unpaid" tabs (covet.orders.filters.view_clause, same predicates): their
        # rows are the recent few thousand, so a capped count or a first page over the whole table would scan
        # it from the oldest order (EXPLAIN at 1 M orders: seq scans of 955k and 44k rows).
        Index("ix_orders_to_fulfil", "created_at", "id", postgresql_where=text(TO_FULFIL_WHERE),
              sqlite_where=text(TO_FULFIL_WHERE)),
        Index("ix_orders_unpaid_open", "created_at", "id", postgresql_where=text(UNPAID_OPEN_WHERE),
              sqlite_where=text(UNPAID_OPEN_WHERE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    customer_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    customer_ip: Mapped[str | None] = mapped_column(String(45))
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    subtotal_amount: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    shipping_amount: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tax_amount: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_amount: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    refunded_amount: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    payment_status: Mapped[str] = mapped_column(String(24), nullable=False, default="unpaid")
    fulfilment_status: Mapped[str] = mapped_column(String(16), nullable=False, default="unfulfilled")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    shipping_address: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    customer = relationship("Customer")
    assignee = relationship("User")
    lines = relationship("OrderLine", back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id")
    tags = relationship("OrderTag", cascade="all, delete-orphan", order_by="OrderTag.tag")
    notes = relationship("OrderNote", cascade="all, delete-orphan", order_by="OrderNote.created_at")
    fulfilments = relationship("Fulfilment", cascade="all, delete-orphan", order_by="Fulfilment.created_at")

    __mapper_args__ = {"version_id_col": version}

    @property
    def refundable_amount(self) -> int:
        return self.total_amount - self.refunded_amount


# Customer search is a case-insensitive prefix: text_pattern_ops lets LIKE 'abc%' use it on PostgreSQL.
Index("ix_orders_email_lower", func.lower(Order.email).label("email_lower"),
      postgresql_ops={"email_lower": "text_pattern_ops"})


class OrderLine(db.Model):
    """A variant as it was sold: title, SKU and price are snapshots."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_amount >= 0", name="price_not_negative"),
        CheckConstraint("quantity_fulfilled BETWEEN 0 AND quantity", name="fulfilled_range"),
        CheckConstraint("quantity_refunded BETWEEN 0 AND quantity", name="refunded_range"),
        Index("ix_order_lines_store_order", "store_id", "order_id"),
        # SKU search is a prefix match; text_pattern_ops serves LIKE 'SKU%' whatever the collation.
        Index("ix_order_lines_sku_pattern", "sku", postgresql_ops={"sku": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"), index=True)
    product_title: Mapped[str] = mapped_column(String(200), nullable=False)
    variant_title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    unit_price_amount: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_fulfilled: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quantity_refunded: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Set when paid stock could not be reserved (oversold); staff resolve it.
    stock_problem: Mapped[str | None] = mapped_column(String(200))

    order = relationship("Order", back_populates="lines")
    store = relationship("Store")

    @property
    def total_amount(self) -> int:
        return self.unit_price_amount * self.quantity

    def email_line(self, quantity: int | None = None) -> dict:
        """The line as the customer emails show it; a product without options has no variant to name."""
        return {"title": self.product_title, "variant": "" if self.variant_title == "Default" else self.variant_title,
                "sku": self.sku, "quantity": self.quantity if quantity is None else quantity,
                "unit_price": self.unit_price_amount}


class OrderTag(db.Model):
    __tablename__ = "order_tags"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class OrderNote(db.Model):
    __tablename__ = "order_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    author = relationship("User")


class Fulfilment(db.Model):
    """One store's shipment of some of an order's lines."""

    __tablename__ = "fulfilments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False, index=True)
    carrier: Mapped[str] = mapped_column(String(60), nullable=False)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    shipped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # One per submitted form: a double-click or a retried request finds the first fulfilment.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)

    lines = relationship("FulfilmentLine", cascade="all, delete-orphan")
    store = relationship("Store")


class FulfilmentLine(db.Model):
    __tablename__ = "fulfilment_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    fulfilment_id: Mapped[int] = mapped_column(ForeignKey("fulfilments.id", ondelete="CASCADE"), primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)


class OrderFilterPreset(db.Model):
    """A user's saved queue filter, kept as the query string it was saved from."""

    __tablename__ = "order_filter_presets"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    query: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
