"""CSV export of a store's catalogue: one row per variant, options spelled out."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from covet.catalog.models import OptionValue, Product, ProductOption, Variant
from covet.extensions import db
from covet.money import to_major

COLUMNS = ["product_slug", "product_title", "status", "brand", "product_type", "tags",
           "option1_name", "option1_value", "option2_name", "option2_value", "option3_name", "option3_value",
           "sku", "barcode", "price", "compare_at", "currency", "stock", "weight_grams", "active"]
BATCH = 200  # products per query: keeps memory flat for large stores


def _product_batches(store_id: int) -> Iterator[list[Product]]:
    last_id = 0
    while True:
        batch = db.session.scalars(
            select(Product).where(Product.store_id == store_id, Product.id > last_id).order_by(Product.id)
            .limit(BATCH).options(selectinload(Product.options).selectinload(ProductOption.values),
                                  selectinload(Product.variants).selectinload(Variant.option_values)
                                  .selectinload(OptionValue.option))).all()
        if not batch:
            return
        yield batch
        last_id = batch[-1].id
        db.session.expunge_all()


def export_rows(store_id: int) -> Iterator[dict]:
    """Every variant of the store as a CSV row (dict keyed by COLUMNS)."""
    for batch in _product_batches(store_id):
        for product in batch:
            for variant in product.variants:
                yield _row(product, variant)


def _row(product: Product, variant: Variant) -> dict:
    row = {"product_slug": product.slug, "product_title": product.title, "status": product.status,
           "brand": product.brand or "", "product_type": product.product_type or "", "tags": ", ".join(product.tags),
           "sku": variant.sku, "barcode": variant.barcode or "", "currency": variant.currency.upper(),
           "price": to_major(variant.price_amount, variant.currency),
           "compare_at": to_major(variant.compare_at_amount, variant.currency), "stock": variant.stock_on_hand,
           "weight_grams": "" if variant.weight_grams is None else variant.weight_grams,
           "active": "true" if variant.active else "false"}
    values = sorted(variant.option_values, key=lambda v: v.option.position)
    for index, value in enumerate(values[:3], start=1):
        row[f"option{index}_name"], row[f"option{index}_value"] = value.option.name, value.value
    return row


def write_csv(rows: Iterator[dict], on_row=None) -> bytes:
    """CSV bytes (UTF-8 with BOM so spreadsheet apps read accents right); on_row(count) reports progress."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for count, row in enumerate(rows, start=1):
        writer.writerow({k: _defuse(v) for k, v in row.items()})
        if on_row and count % 500 == 0:
            on_row(count)
    return ("\ufeff" + out.getvalue()).encode()


def _defuse(value):
    """Spreadsheets run cells starting with = + - @ as formulas: prefix a quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _numeric(value):
        return "'" + value
    return value


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
