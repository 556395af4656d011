"""CSV import: create or update variants by SKU. A dry run lists every row's problems; apply is all or nothing."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

from covet.catalog.models import PRODUCT_STATUSES
from covet.catalog.products import slugify
from covet.catalog.variants import SKU_PATTERN
from covet.errors import ValidationError
from covet.money import parse_money

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
REQUIRED = ("product_slug", "sku", "price")
TRUE, FALSE = {"true", "1", "yes", "y", ""}, {"false", "0", "no", "n"}


@dataclass
class RowError:
    line: int
    sku: str
    message: str


@dataclass
class ParsedRow:
    line: int
    slug: str
    product: dict
    options: list[tuple[str, str]]
    sku: str
    values: dict  # price_amount, compare_at_amount, barcode, weight_grams, active, stock (None = keep)


@dataclass
class ImportReport:
    store_id: int
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    products_new: int = 0
    variants_new: int = 0
    variants_updated: int = 0
    applied: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def read_rows(data: bytes) -> list[dict]:
    """CSV bytes → rows; ValidationError for a file that is not a usable CSV."""
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_BYTES // 1024 // 1024} MB."})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "Save the file as UTF-8 CSV."}) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError({"file": f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."})
    rows = list(reader)
    if len(rows) > MAX_ROWS:
        raise ValidationError({"file": f"At most {MAX_ROWS:,} rows per file."})
    return rows


def _cell(row: dict, name: str) -> str:
    return (row.get(name) or "").strip().lstrip("'")  # undo our own formula-defusing quote


def _parse_row(line: int, row: dict, currency: str) -> tuple[ParsedRow | None, list[str]]:
    problems = []
    sku, slug = _cell(row, "sku"), slugify(_cell(row, "product_slug"))
    if not SKU_PATTERN.match(sku):
        problems.append("SKU must be 1–64 letters, digits, . _ - or /")
    if not slug:
        problems.append("product_slug is empty")
    values: dict = {"barcode": _cell(row, "barcode") or None}
    for column, key in (("price", "price_amount"), ("compare_at", "compare_at_amount")):
        try:
            values[key] = parse_money(_cell(row, column), currency) if _cell(row, column) else None
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
    if values.get("price_amount") is None and "price" not in " ".join(problems):
        problems.append("price is required")
    if values.get("compare_at_amount") is not None and values.get("price_amount") is not None \
            and values["compare_at_amount"] <= values["price_amount"]:
        problems.append("compare_at must be higher than price")
    if _cell(row, "currency") and _cell(row, "currency").lower() != currency:
        problems.append(f"currency must be {currency.upper()} (the store's)")
    for column, key in (("stock", "stock"), ("weight_grams", "weight_grams")):
        text = _cell(row, column)
        values[key] = int(text) if text.isdigit() else None
        if text and not text.isdigit():
            problems.append(f"{column} must be a whole number ≥ 0")
    active = _cell(row, "active").lower()
    values["active"] = active in TRUE
    if active not in TRUE | FALSE:
        problems.append("active must be true or false")
    status = _cell(row, "status").lower()
    if status and status not in PRODUCT_STATUSES:
        problems.append(f"status must be one of {', '.join(PRODUCT_STATUSES)}")
    options = [(_cell(row, f"option{i}_name"), _cell(row, f"option{i}_value")) for i in (1, 2, 3)]
    if any(bool(name) != bool(value) for name, value in options):
        problems.append("each option needs both a name and a value")
    product = {"title": _cell(row, "product_title"), "status": status, "brand": _cell(row, "brand"),
               "product_type": _cell(row, "product_type"), "tags": _cell(row, "tags")}
    parsed = ParsedRow(line, slug, product, [o for o in options if o[0]], sku, values)
    return (None if problems else parsed), problems
