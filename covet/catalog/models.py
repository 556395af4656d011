"""Products, options, variants and the stock ledger."""
import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from covet.dbtypes import Currency, JSONType, TimestampMixin, UTCDateTime, enum_check, utcnow
from covet.extensions import db

PRODUCT_STATUSES = ("draft", "active", "archived")
STOCK_REASONS = ("received", "damaged", "correction", "sold", "returned", "cancelled")

variant_option_values = Table(
    "variant_option_values", db.metadata,
    Column("variant_id", ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True),
    Column("option_value_id", ForeignKey("option_values.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Product(TimestampMixin, db.Model):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("store_id", "slug"),
        CheckConstraint(enum_check("status", PRODUCT_STATUSES), name="status_valid"),
        Index("ix_products_store_status_updated", "store_id", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    slug: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    brand: Mapped[str | None] = mapped_column(String(120), index=True)
    product_type: Mapped[str | None] = mapped_column(String(120))
    tags: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    store = relationship("Store")
    options = relationship("ProductOption", order_by="ProductOption.position", cascade="all, delete-orphan",
                           back_populates="product")
    variants = relationship("Variant", order_by="Variant.position", cascade="all, delete-orphan",
                            back_populates="product")

    __mapper_args__ = {"version_id_col": version}


class ProductOption(db.Model):
    __tablename__ = "product_options"
    __table_args__ = (UniqueConstraint("product_id", "name"), UniqueConstraint("product_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    product = relationship("Product", back_populates="options")
    values = relationship("OptionValue", order_by="OptionValue.position", cascade="all, delete-orphan",
                          back_populates="option")


class OptionValue(db.Model):
    __tablename__ = "option_values"
    __table_args__ = (UniqueConstraint("option_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("product_options.id", ondelete="CASCADE"), nullable=False)
    value: Mapped[str] = mapped_column(String(80), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    option = relationship("ProductOption", back_populates="values")


class Variant(TimestampMixin, db.Model):
    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("store_id", "sku"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint("compare_at_amount IS NULL OR compare_at_amount > price_amount",
                        name="compare_at_above_price"),
        CheckConstraint("stock_on_hand >= 0", name="stock_not_negative"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight_not_negative"),
        Index("ix_variants_product_position", "product_id", "position"),
        Index("ix_variants_store_stock", "store_id", "stock_on_hand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    # Denormalised from the product so "SKU unique per store" is a database constraint.
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False)
    sku: Mapped[str] = mapped_column(String(64), nullable=False)
    barcode: Mapped[str | None] = mapped_column(String(64))
    price_amount: Mapped[int] = mapped_column(Integer, nullable=False)
    compare_at_amount: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(Currency(), nullable=False)
    stock_on_hand: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    product = relationship("Product", back_populates="variants")
    option_values = relationship("OptionValue", secondary=variant_option_values, order_by="OptionValue.position")

    __mapper_args__ = {"version_id_col": version}

    @property
    def title(self) -> str:
        """'M / Noir': values in option order (the editor builds titles in bulk instead)."""
        values = sorted(self.option_values, key=lambda v: (v.option.position, v.position))
        return " / ".join(v.value for v in values) or "Default"


class InventoryAdjustment(db.Model):
    """One change to a variant's stock on hand; the stock column is the sum of these."""

    __tablename__ = "inventory_adjustments"
    __table_args__ = (
        CheckConstraint(enum_check("reason", STOCK_REASONS), name="reason_valid"),
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
        Index("ix_inventory_adjustments_variant_created", "variant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), nullable=False)
    delta: Mapped[int] = mapped_column(Integer, nullable=False)
    stock_after: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    note: Mapped[str | None] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
