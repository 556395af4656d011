"""Product use cases: create and edit products, their options, and the variant matrix."""
from __future__ import annotations

import re

from sqlalchemy import select

from covet.audit.services import Actor, record
from covet.catalog.models import PRODUCT_STATUSES, Product
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.storefront.cache import request_invalidation
from covet.stores.models import Store

MAX_OPTIONS = 3
MAX_VARIANTS = 2048
PRODUCT_FIELDS = ("title", "slug", "description", "brand", "product_type", "tags", "status")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:200]


def product_for(actor: Actor, product_id: int, lock: bool = False) -> Product:
    """The product if this actor may edit it (merchants: own store only), else NotFoundError."""
    stmt = select(Product).where(Product.id == product_id)
    if actor.role == "merchant":
        stmt = stmt.where(Product.store_id == actor.store_id)
    product = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if product is None:
        raise NotFoundError(f"product {product_id}")
    return product


def snapshot(product: Product) -> dict:
    return {field: getattr(product, field) for field in PRODUCT_FIELDS}


def clean_product_fields(data: dict, store_id: int, product_id: int | None = None) -> dict:
    """Validated product fields from form data, or ValidationError naming each bad field."""
    errors, out = {}, {}
    out["title"] = (data.get("title") or "").strip()
    if not out["title"] or len(out["title"]) > 200:
        errors["title"] = "Give the product a title (at most 200 characters)."
    out["slug"] = slugify(data.get("slug") or out["title"])
    if not out["slug"]:
        errors["slug"] = "Use letters or digits in the URL name."
    elif db.session.scalar(select(Product.id).where(Product.store_id == store_id, Product.slug == out["slug"],
                                                    Product.id != (product_id or 0))):
        errors["slug"] = "Another product of this store already uses this URL name."
    out["description"] = (data.get("description") or "").strip()[:20000]
    out["brand"] = (data.get("brand") or "").strip()[:120] or None
    out["product_type"] = (data.get("product_type") or "").strip()[:120] or None
    tags = data.get("tags") or ""
    out["tags"] = sorted({t.strip().lower() for t in (tags.split(",") if isinstance(tags, str) else tags)
                          if t.strip()})[:30]
    out["status"] = data.get("status") or "draft"
    if out["status"] not in PRODUCT_STATUSES:
        errors["status"] = f"Status must be one of {', '.join(PRODUCT_STATUSES)}."
    if errors:
        raise ValidationError(errors)
    return out


def _invalidate(product: Product) -> None:
    request_invalidation([f"product:{product.id}", f"store:{product.store_id}", "listing"])


def create_product(data: dict, store_id: int, actor: Actor) -> Product:
    """Create a product in a store the actor may edit."""
    if actor.role == "merchant" and store_id != actor.store_id:
        raise NotFoundError(f"store {store_id}")
    if db.session.get(Store, store_id) is None:
        raise ValidationError({"store_id": "Choose a store."})
    fields = clean_product_fields(data, store_id)
    product = Product(store_id=store_id, **fields)
    db.session.add(product)
    db.session.flush()
    record(actor, "product.created", "product", product.id, after=fields, store_id=store_id)
    _invalidate(product)
    db.session.commit()
    return product


def update_product(product_id: int, version: int, data: dict, actor: Actor) -> Product:
    """Save product fields; a stale version raises ConflictError instead of overwriting."""
    product = product_for(actor, product_id, lock=True)
    if product.version != version:
        raise ConflictError(snapshot(product), product.version)
    fields = clean_product_fields(data, product.store_id, product.id)
    before = snapshot(product)
    for name, value in fields.items():
        setattr(product, name, value)
    record(actor, "product.updated", "product", product.id, before=before, after=fields, store_id=product.store_id)
    _invalidate(product)
    db.session.commit()
    return product
