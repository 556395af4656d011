"""Options and the variant matrix: one variant per combination the product sells, up to 2,048."""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from covet.audit.services import Actor, record
from covet.catalog.models import OptionValue, Product, ProductOption, Variant, variant_option_values
from covet.catalog.products import MAX_OPTIONS, MAX_VARIANTS, _invalidate, product_for
from covet.errors import ValidationError
from covet.extensions import db


@dataclass
class ConfirmationRequiredError(Exception):
    """Saving these options would delete variants; the user must confirm (SKUs listed, stock shown)."""

    variants: list[tuple[str, int]]  # (sku, stock on hand)


def clean_options(raw: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """[(name, "S, M, L")] → [(name, [values])], validated; empty rows are ignored."""
    options, errors = [], {}
    for index, (name, values_text) in enumerate(raw):
        name = (name or "").strip()
        values = [v.strip() for v in re.split(r"[,\n]", values_text or "") if v.strip()]
        if not name and not values:
            continue
        if not name or len(name) > 60:
            errors[f"option_{index}_name"] = "Name the option (at most 60 characters)."
        if not values or len(values) != len({v.lower() for v in values}):
            errors[f"option_{index}_values"] = "List distinct values, separated by commas."
        if any(len(v) > 80 for v in values):
            errors[f"option_{index}_values"] = "Values are at most 80 characters."
        options.append((name, values))
    if len(options) > MAX_OPTIONS:
        errors["options"] = f"At most {MAX_OPTIONS} options."
    if len({n.lower() for n, _ in options}) != len(options):
        errors["options"] = "Each option needs its own name."
    if options and math.prod(len(v) for _, v in options) > MAX_VARIANTS:
        errors["options"] = f"These options make more than {MAX_VARIANTS:,} combinations."
    if errors:
        raise ValidationError(errors)
    return options


def _affected_variants(product: Product, keep_value_ids: set[int], dropped_options: set[int]) -> list[Variant]:
    """Variants that would lose a value that no longer exists, or collapse onto another after an option goes."""
    affected, seen = [], set()
    for variant in product.variants:
        values = [v for v in variant.option_values if v.option_id not in dropped_options]
        combo = frozenset(v.id for v in values)
        if any(v.id not in keep_value_ids for v in values) or combo in seen:
            affected.append(variant)
        else:
            seen.add(combo)
    return affected


def set_options(product_id: int, raw: list[tuple[str, str]], actor: Actor, confirm_delete: bool = False) -> Product:
    """Replace the product's options and values (order as given); deleting variants needs confirmation."""
    product = product_for(actor, product_id, lock=True)
    options = clean_options(raw)
    existing = {o.name.lower(): o for o in product.options}
    wanted = {name.lower() for name, _ in options}
    dropped = {o.id for key, o in existing.items() if key not in wanted}
    keep_ids = {v.id for key, o in existing.items() if key in wanted for v in o.values
                if v.value.lower() in {x.lower() for n, vals in options if n.lower() == key for x in vals}}
    doomed = _affected_variants(product, keep_ids, dropped)
    if doomed and not confirm_delete:
        raise ConfirmationRequiredError([(v.sku, v.stock_on_hand) for v in doomed])
    before = {o.name: [v.value for v in o.values] for o in product.options}
    for variant in doomed:
        db.session.delete(variant)
    db.session.flush()
    _write_options(product, options, existing)
    record(actor, "product.options_set", "product", product.id, before={"options": before},
           after={"options": {n: v for n, v in options}, "deleted_skus": [v.sku for v in doomed]},
           store_id=product.store_id)
    _invalidate(product)
    db.session.commit()
    return product


def _write_options(product: Product, options: list[tuple[str, list[str]]], existing: dict) -> None:
    # Park positions out of the way first: (product_id, position) is unique and we reorder in place.
    for option in product.options:
        option.position += 1000
    db.session.flush()
    keep = []
    for position, (name, values) in enumerate(options):
        option = existing.get(name.lower())
        if option is None:  # SQLAlchemy 2 cascades from the collection side only
            option = ProductOption(name=name)
            product.options.append(option)
        option.name, option.position = name, position
        by_value = {v.value.lower(): v for v in option.values}
        option.values = [by_value.get(value.lower()) or OptionValue(value=value) for value in values]
        for index, value in enumerate(option.values):
            value.value, value.position = values[index], index
        keep.append(option)
    for option in list(product.options):
        if option not in keep:
            product.options.remove(option)
    db.session.flush()
    _attach_new_options(product)


def _attach_new_options(product: Product) -> None:
    """Existing variants take the first value of any option they have no value for."""
    for variant in product.variants:
        have = {v.option_id for v in variant.option_values}
        for option in product.options:
            if option.id not in have and option.values:
                variant.option_values.append(option.values[0])


def generate_variants(product_id: int, base_price: int | None, actor: Actor) -> int:
    """Add a variant for every missing combination of option values; returns how many were added."""
    product = product_for(actor, product_id, lock=True)
    value_lists = [[v.id for v in o.values] for o in product.options if o.values]
    combos = [frozenset(c) for c in itertools.product(*value_lists)] if value_lists else [frozenset()]
    have = {frozenset(v.id for v in variant.option_values) for variant in product.variants}
    missing = [c for c in combos if c not in have]
    if not missing:
        return 0
    if len(have) + len(missing) > MAX_VARIANTS:
        raise ValidationError({"options": f"A product has at most {MAX_VARIANTS:,} variants."})
    price = base_price if base_price is not None else min((v.price_amount for v in product.variants), default=None)
    if price is None:
        raise ValidationError({"base_price": "Enter a starting price for the new variants."})
    _insert_variants(product, missing, price)
    record(actor, "product.variants_generated", "product", product.id, after={"added": len(missing)},
           store_id=product.store_id)
    _invalidate(product)
    db.session.commit()
    return len(missing)


def _insert_variants(product: Product, combos: list[frozenset], price: int) -> None:
    """Bulk insert: 2,048 rows in two statements rather than 4,000 ORM flushes."""
    prefix = re.sub(r"[^A-Z0-9]", "", product.slug.upper())[:10] or "SKU"
    prefix = f"{prefix}-{product.id}"
    taken = set(db.session.scalars(select(Variant.sku).where(Variant.store_id == product.store_id,
                                                              Variant.sku.like(f"{prefix}-%"))))
    start = (db.session.scalar(select(func.max(Variant.position)).where(Variant.product_id == product.id)) or 0) + 1
    numbers = (n for n in itertools.count(1) if f"{prefix}-{n:04d}" not in taken)
    currency = product.store.currency
    rows = [{"product_id": product.id, "store_id": product.store_id, "sku": f"{prefix}-{next(numbers):04d}",
             "price_amount": price, "currency": currency, "stock_on_hand": 0, "position": start + i}
            for i in range(len(combos))]
    ids = db.session.scalars(insert(Variant).returning(Variant.id, sort_by_parameter_order=True), rows).all()
    links = [{"variant_id": vid, "option_value_id": value_id} for vid, combo in zip(ids, combos, strict=True)
             for value_id in combo]
    if links:
        db.session.execute(insert(variant_option_values), links)
    db.session.expire(product, ["variants"])

