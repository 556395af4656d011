"""Product images and their renditions."""
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from covet.dbtypes import JSONType, TimestampMixin, enum_check
from covet.extensions import db

MEDIA_STATUSES = ("pending", "processing", "ready", "failed")


class Media(TimestampMixin, db.Model):
    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint(enum_check("status", MEDIA_STATUSES), name="status_valid"),
        Index("ix_media_product_position", "product_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"))
    s3_key: Mapped[str] = mapped_column(String(512), nullable=False, unique=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(64))
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    alt_text: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    error: Mapped[str | None] = mapped_column(String(500))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # {"1600": "products/…/1600.webp", "800": …}
    renditions: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)

    product = relationship("Product")
