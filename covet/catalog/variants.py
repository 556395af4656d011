"""Variant use cases: save one row (version-checked) and bulk edits (all or nothing)."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from covet.audit.services import Actor, record
from covet.catalog.alerts import notify_price_drops
from covet.catalog.models import Variant
from covet.catalog.products import _invalidate
from covet.catalog.stock import EDITOR_REASONS, adjust_stock, stock_problem
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.money import MAX_AMOUNT, parse_money
from covet.web.params import parse_whole

FIELDS = ("sku", "barcode", "price_amount", "compare_at_amount", "stock_on_hand", "weight_grams", "active")
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")
TRUE = {"on", "1", "true", "yes"}
MAX_STOCK = 10**7  # what the row editor accepts; the ledger's INTEGER columns hold far more
PERCENT = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4})?")


def variant_for(actor: Actor, variant_id: int, product_id: int | None = None, lock: bool = False) -> Variant:
    """The variant if this actor may edit it, else NotFoundError (merchants: own store only)."""
    stmt = select(Variant).where(Variant.id == variant_id)
    if product_id is not None:
        stmt = stmt.where(Variant.product_id == product_id)
    if actor.role == "merchant":
        stmt = stmt.where(Variant.store_id == actor.store_id)
    variant = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if variant is None:
        raise NotFoundError(f"variant {variant_id}")
    return variant


def snapshot(variant: Variant) -> dict:
    return {field: getattr(variant, field) for field in FIELDS}


def _int(text: str | None, field: str, errors: dict, low: int = 0, high: int = 10**7) -> int | None:
    if not (text or "").strip():
        return None
    try:
        return parse_whole(text, low, high)
    except ValueError as exc:
        errors[field] = str(exc)
        return None


def _money(text: str | None, currency: str, field: str, errors: dict) -> int | None:
    if not (text or "").strip():
        return None
    try:
        return parse_money(text, currency)
    except ValueError as exc:
        errors[field] = str(exc)
        return None


def _sku_taken(variant: Variant, sku: str) -> bool:
    return db.session.scalar(select(Variant.id).where(Variant.store_id == variant.store_id, Variant.sku == sku,
                                                      Variant.id != variant.id)) is not None


def clean_row(data: dict, variant: Variant) -> dict:
    """Validated values for one row of the variant table; ValidationError names each bad field."""
    errors: dict[str, str] = {}
    sku = (data.get("sku") or "").strip()
    if not SKU_PATTERN.match(sku):
        errors["sku"] = "Use 1–64 letters, digits, . _ - or /."
    elif _sku_taken(variant, sku):
        errors["sku"] = f"SKU {sku} is already used in this store."
    price = _money(data.get("price"), variant.currency, "price", errors)
    if price is None and "price" not in errors:
        errors["price"] = "Enter a price."
    compare_at = _money(data.get("compare_at"), variant.currency, "compare_at", errors)
    if compare_at is not None and price is not None and compare_at <= price:
        errors["compare_at"] = "Compare-at must be higher than the price (or empty)."
    stock = _int(data.get("stock"), "stock", errors, high=MAX_STOCK)
    stock = variant.stock_on_hand if stock is None and "stock" not in errors else stock
    reason = data.get("stock_reason") or "correction"
    if stock is not None and stock != variant.stock_on_hand:
        problem = stock_problem(variant, stock - variant.stock_on_hand, reason)
        if problem:
            errors["stock"] = problem
    barcode = (data.get("barcode") or "").strip() or None
    if barcode and not re.fullmatch(r"[A-Za-z0-9\-]{1,64}", barcode):
        errors["barcode"] = "Use up to 64 letters, digits or dashes."
    weight = _int(data.get("weight"), "weight", errors, high=1_000_000)
    if errors:
        raise ValidationError(errors)
    return {"sku": sku, "barcode": barcode, "price_amount": price, "compare_at_amount": compare_at,
            "stock_on_hand": stock, "weight_grams": weight, "active": (data.get("active") or "").lower() in TRUE,
            "stock_reason": reason}


def save_variant(variant_id: int, product_id: int, version: int, data: dict, actor: Actor) -> Variant:
    """Save one row; a stale version raises ConflictError with the current values, never overwrites."""
    variant = variant_for(actor, variant_id, product_id, lock=True)
    if variant.version != version:
        raise ConflictError(snapshot(variant), variant.version)
    values = clean_row(data, variant)
    before = snapshot(variant)
    reason = values.pop("stock_reason")
    delta = values.pop("stock_on_hand") - variant.stock_on_hand
    for field, value in values.items():
        setattr(variant, field, value)
    if delta:
        adjust_stock(variant, delta, reason, actor, note="variant editor")
    _after_change(variant.product, [(variant, before)], actor)
    try:
        db.session.commit()
    except StaleDataError:  # a concurrent save slipped between our read and write
        db.session.rollback()
        current = variant_for(actor, variant_id, product_id)
        raise ConflictError(snapshot(current), current.version) from None
    except IntegrityError:
        db.session.rollback()
        raise ValidationError({"sku": f"SKU {values['sku']} is already used in this store."}) from None
    return variant


def _after_change(product, changed: list[tuple[Variant, dict]], actor: Actor) -> None:
    """Audit every row, alert subscribers of lowered prices, invalidate cached pages: same transaction."""
    lowered = {}
    for variant, before in changed:
        after = snapshot(variant)
        record(actor, "variant.updated", "variant", variant.id, before=before, after=after,
               store_id=variant.store_id)
        if after["price_amount"] < before["price_amount"]:
            lowered[variant.id] = (before["price_amount"], after["price_amount"])
    notify_price_drops(product, lowered)
    _invalidate(product)


BULK_OPERATIONS = {"set_price": "Set price to", "add_amount": "Change price by amount",
                   "percent": "Change price by percent", "set_compare_at": "Set compare-at to",
                   "adjust_stock": "Adjust stock by"}


def _bulk_value(operation: str, text: str, currency: str):
    text = (text or "").strip()
    if operation == "set_compare_at" and not text:
        return None  # clears compare-at
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    try:
        if operation in ("set_price", "set_compare_at"):
            return parse_money(text, currency)
        if operation == "add_amount":
            return sign * parse_money(body, currency)
        if operation == "percent":
            if not PERCENT.fullmatch(body):
                raise ValueError("Enter a percentage such as 10 or 12.5.")
            return sign * Decimal(body)
        return sign * parse_whole(body, 0, MAX_STOCK)
    except ValueError as exc:
        raise ValidationError({"value": str(exc) if str(exc) else "Enter a number."}) from None


def _bulk_apply(variant: Variant, operation: str, value) -> tuple[dict, str | None]:
    """New values for one row and what is wrong with them (or None)."""
    price, compare_at, stock = variant.price_amount, variant.compare_at_amount, variant.stock_on_hand
    if operation == "set_price":
        price = value
    elif operation == "add_amount":
        price += value
    elif operation == "percent":
        price = int((Decimal(price) * (1 + value / 100)).to_integral_value(ROUND_HALF_UP))
    elif operation == "set_compare_at":
        compare_at = value
    else:
        stock += value
    problem = None
    if price > MAX_AMOUNT or (compare_at or 0) > MAX_AMOUNT:
        problem = "price would be too large"
    elif stock > MAX_STOCK:
        problem = f"stock would be above {MAX_STOCK:,}"
    elif price < 0:
        problem = "price would go below zero"
    elif compare_at is not None and compare_at <= price:
        problem = "compare-at would not be above the price"
    elif stock < 0:
        problem = f"stock would go below zero (on hand {variant.stock_on_hand})"
    return {"price_amount": price, "compare_at_amount": compare_at, "stock_on_hand": stock}, problem


def bulk_edit(product_id: int, variant_ids: list[int], operation: str, value_text: str, actor: Actor,
              reason: str = "correction") -> int:
    """Apply one change to the selected rows in one transaction: every row valid, or nothing written."""
    from covet.catalog.products import product_for

    product = product_for(actor, product_id, lock=True)
    if operation not in BULK_OPERATIONS:
        raise ValidationError({"operation": "Choose what to change."})
    if not variant_ids:
        raise ValidationError({"variant_ids": "Select at least one variant."})
    if operation == "adjust_stock" and reason not in EDITOR_REASONS:
        raise ValidationError({"reason": f"Choose a reason: {', '.join(EDITOR_REASONS)}."})
    variants = db.session.scalars(select(Variant).where(Variant.product_id == product.id,
                                                        Variant.id.in_(variant_ids))
                                  .order_by(Variant.id).with_for_update()).all()
    if len(variants) != len(set(variant_ids)):
        raise NotFoundError("variant")
    value = _bulk_value(operation, value_text, product.store.currency)
    planned, errors = [], {}
    for variant in variants:
        new, problem = _bulk_apply(variant, operation, value)
        if problem:
            errors[variant.sku] = problem
        planned.append((variant, new))
    if errors:
        raise ValidationError(errors)
    changed = []
    for variant, new in planned:
        before = snapshot(variant)
        delta = new.pop("stock_on_hand") - variant.stock_on_hand
        for field, field_value in new.items():
            setattr(variant, field, field_value)
        if delta:
            adjust_stock(variant, delta, reason, actor, note="bulk edit")
        changed.append((variant, before))
    _after_change(product, changed, actor)
    db.session.commit()
    return len(changed)
