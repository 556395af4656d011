"""Check a parsed import against the store, then apply it in one transaction."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from covet.audit.services import Actor, record
from covet.catalog.csv_import import ImportReport, ParsedRow, RowError, _parse_row, read_rows, report_sku
from covet.catalog.models import OptionValue, Product, ProductOption, Variant
from covet.catalog.products import MAX_VARIANTS
from covet.catalog.stock import adjust_stock
from covet.catalog.variants import _after_change, snapshot
from covet.extensions import db
from covet.stores.models import Store


def plan_import(data: bytes, store: Store) -> tuple[list[ParsedRow], ImportReport]:
    """Parse and check every row against the store; nothing is written."""
    raw = read_rows(data)
    report = ImportReport(store_id=store.id, rows=len(raw))
    parsed: list[ParsedRow] = []
    for line, row in enumerate(raw, start=2):  # line 1 is the header
        result, problems = _parse_row(line, row, store.currency)
        report.errors += [RowError(line, report_sku(row), p) for p in problems]
        if result:
            parsed.append(result)
    _check_across_rows(parsed, store, report)
    return parsed, report


def _check_across_rows(rows: list[ParsedRow], store: Store, report: ImportReport) -> None:
    seen_sku: dict[str, int] = {}
    by_product: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        if row.sku in seen_sku:
            report.errors.append(RowError(row.line, row.sku, f"SKU repeats line {seen_sku[row.sku]}"))
        seen_sku.setdefault(row.sku, row.line)
        by_product[row.slug].append(row)
    products = {p.slug: p for p in db.session.scalars(select(Product).where(Product.store_id == store.id,
                                                                            Product.slug.in_(by_product)))}
    owners = dict(db.session.execute(select(Variant.sku, Product.slug).join(Product).where(
        Variant.store_id == store.id, Variant.sku.in_(seen_sku))).all())
    existing_skus = set(owners)
    for slug, product_rows in by_product.items():
        names = [n for n, _ in product_rows[0].options]
        existing = products.get(slug)
        if existing is not None and existing.options and [o.name for o in existing.options] != names:
            expected = ", ".join(o.name for o in existing.options)
            message = f"options must be {expected} (the product's)"
            report.errors += [RowError(r.line, r.sku, message) for r in product_rows]
        combos = set()
        for row in product_rows:
            if [n for n, _ in row.options] != names:
                report.errors.append(RowError(row.line, row.sku, "options differ from the product's first row"))
            combo = tuple(v.lower() for _, v in row.options)
            if combo in combos and names:
                report.errors.append(RowError(row.line, row.sku, "the same option values appear twice"))
            combos.add(combo)
            if row.sku in owners and owners[row.sku] != slug:
                report.errors.append(RowError(row.line, row.sku, f"SKU belongs to product {owners[row.sku]}"))
        if len(product_rows) > MAX_VARIANTS:
            report.errors.append(RowError(product_rows[0].line, "", f"{slug}: more than {MAX_VARIANTS:,} variants"))
        report.products_new += existing is None
    report.variants_updated = sum(1 for r in rows if r.sku in existing_skus)
    report.variants_new = len(rows) - report.variants_updated
    report.errors.sort(key=lambda e: e.line)


def apply_import(data: bytes, store: Store, actor: Actor) -> ImportReport:
    """Apply a file with no errors: everything in one transaction, or nothing."""
    rows, report = plan_import(data, store)
    if report.errors:
        return report
    by_product: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        by_product[row.slug].append(row)
    for slug, product_rows in by_product.items():
        product = _product(store, slug, product_rows[0], actor)
        _apply_product_rows(product, product_rows, actor)
    record(actor, "catalog.imported", "store", store.id, store_id=store.id,
           after={"rows": report.rows, "products_new": report.products_new, "variants_new": report.variants_new,
                  "variants_updated": report.variants_updated})
    db.session.commit()
    report.applied = True
    return report


def _product(store: Store, slug: str, first: ParsedRow, actor: Actor) -> Product:
    product = db.session.scalar(select(Product).where(Product.store_id == store.id, Product.slug == slug))
    fields = {k: v for k, v in first.product.items() if v}
    if "tags" in fields:
        fields["tags"] = sorted({t.strip().lower() for t in fields["tags"].split(",") if t.strip()})
    if product is None:
        product = Product(store_id=store.id, slug=slug, title=fields.pop("title", slug), **fields)
        db.session.add(product)
        db.session.flush()
        record(actor, "product.created", "product", product.id, after={"slug": slug, "source": "csv"},
               store_id=store.id)
        return product
    before = {k: getattr(product, k) for k in fields}
    for name, value in fields.items():
        setattr(product, name, value)
    if before != fields:
        record(actor, "product.updated", "product", product.id, before=before, after=fields, store_id=store.id)
    return product


def _option_value(product: Product, name: str, value: str) -> OptionValue:
    option = next((o for o in product.options if o.name == name), None)
    if option is None:
        option = ProductOption(name=name, position=len(product.options))
        product.options.append(option)
    found = next((v for v in option.values if v.value.lower() == value.lower()), None)
    if found is None:
        found = OptionValue(value=value, position=len(option.values))
        option.values.append(found)
    return found


def _apply_product_rows(product: Product, rows: list[ParsedRow], actor: Actor) -> None:
    existing = {v.sku: v for v in product.variants}
    changed = []
    for row in rows:
        values = dict(row.values)
        stock = values.pop("stock")
        variant = existing.get(row.sku)
        if variant is None:
            variant = Variant(store_id=product.store_id, sku=row.sku, currency=product.store.currency,
                              position=len(product.variants), stock_on_hand=0, **values,
                              option_values=[_option_value(product, n, v) for n, v in row.options])
            product.variants.append(variant)
            db.session.flush()
            record(actor, "variant.created", "variant", variant.id, after={"sku": row.sku, "source": "csv"},
                   store_id=product.store_id)
        else:
            before = snapshot(variant)
            for name, value in values.items():
                setattr(variant, name, value)
            changed.append((variant, before))
        if stock is not None and stock != variant.stock_on_hand:
            adjust_stock(variant, stock - variant.stock_on_hand, "correction", actor, note="CSV import")
    db.session.flush()
    _after_change(product, changed, actor)
