"""CSV import: create or update variants by SKU. A dry run lists every row's problems; apply is all or nothing."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field

from covet.catalog.models import PRODUCT_STATUSES
from covet.catalog.products import slugify
from covet.catalog.variants import MAX_STOCK, SKU_PATTERN
from covet.errors import ValidationError
from covet.money import parse_money
from covet.web.params import CONTROL_CHARACTERS, parse_whole

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_CELL = 10_000  # characters: longer than any column (descriptions are not imported), so a row problem
MAX_WEIGHT = 1_000_000  # grams, as in the variant editor
TEXT_LIMITS = {"product_title": 200, "brand": 120, "product_type": 120}  # the products table's columns
OPTION_NAME_MAX, OPTION_VALUE_MAX = 60, 80
BARCODE_PATTERN = re.compile(r"[A-Za-z0-9\-]{1,64}")
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
    # The csv module refuses a cell over 128 KiB with an exception; the file's own limit is the bound here,
    # so that a long cell is reported on its row (MAX_CELL) instead of failing the job.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_BYTES))
    reader = csv.DictReader(io.StringIO(text))
    try:
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError({"file": f"Missing column{'s' if len(missing) > 1 else ''}: "
                                           f"{', '.join(missing)}."})
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationError({"file": f"Line {reader.line_num}: not readable as CSV ({exc})."}) from None
    if len(rows) > MAX_ROWS:
        raise ValidationError({"file": f"At most {MAX_ROWS:,} rows per file."})
    return rows


def _cell(row: dict, name: str) -> str:
    value = row.get(name)
    return (value if isinstance(value, str) else "").strip().lstrip("'")  # undo our own formula-defusing quote


def _cell_problems(row: dict) -> list[str]:
    """Cells no column can hold: control characters (NUL makes PostgreSQL fail) or over MAX_CELL characters."""
    problems = []
    for name, value in row.items():
        for text in (value if isinstance(value, list) else [value]):  # extra cells sit in a list under None
            if not isinstance(text, str):
                continue
            column = name if isinstance(name, str) else "an extra column"
            if len(text) > MAX_CELL:
                problems.append(f"{_shown(column)}: longer than {MAX_CELL:,} characters")
            elif CONTROL_CHARACTERS.search(text):
                problems.append(f"{_shown(column)}: contains a control character")
    return problems


def _shown(name: str) -> str:
    return CONTROL_CHARACTERS.sub("?", name)[:60]


def report_sku(row: dict) -> str:
    """A row's SKU as its problems are listed under: short and printable, whatever the cell holds."""
    return _shown(_cell(row, "sku"))[:64]


def _money_values(row: dict, currency: str, values: dict, problems: list[str]) -> None:
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


def _whole_values(row: dict, values: dict, problems: list[str]) -> None:
    """Stock and weight within what the variant editor accepts (ASCII digits; INTEGER columns)."""
    for column, key, high in (("stock", "stock", MAX_STOCK), ("weight_grams", "weight_grams", MAX_WEIGHT)):
        text, values[key] = _cell(row, column), None
        if not text:
            continue
        try:
            values[key] = parse_whole(text, 0, high)
        except ValueError:
            problems.append(f"{column} must be a whole number from 0 to {high:,}")


def _text_problems(row: dict, options: list[tuple[str, str]]) -> list[str]:
    """Texts longer than their columns, and a barcode the variant editor would refuse."""
    problems = [f"{column} is longer than {limit} characters" for column, limit in TEXT_LIMITS.items()
                if len(_cell(row, column)) > limit]
    if any(len(name) > OPTION_NAME_MAX or len(value) > OPTION_VALUE_MAX for name, value in options):
        problems.append(f"option names are at most {OPTION_NAME_MAX} characters, values {OPTION_VALUE_MAX}")
    barcode = _cell(row, "barcode")
    if barcode and not BARCODE_PATTERN.fullmatch(barcode):
        problems.append("barcode must be up to 64 letters, digits or dashes")
    return problems


def _parse_row(line: int, row: dict, currency: str) -> tuple[ParsedRow | None, list[str]]:
    problems = _cell_problems(row)
    if problems:  # nothing else in the row is worth reading
        return None, problems
    sku, slug = _cell(row, "sku"), slugify(_cell(row, "product_slug"))
    if not SKU_PATTERN.match(sku):
        problems.append("SKU must be 1–64 letters, digits, . _ - or /")
    if not slug:
        problems.append("product_slug is empty")
    values: dict = {"barcode": _cell(row, "barcode") or None}
    _money_values(row, currency, values, problems)
    if _cell(row, "currency") and _cell(row, "currency").lower() != currency:
        problems.append(f"currency must be {currency.upper()} (the store's)")
    _whole_values(row, values, problems)
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
    problems += _text_problems(row, options)
    product = {"title": _cell(row, "product_title"), "status": status, "brand": _cell(row, "brand"),
               "product_type": _cell(row, "product_type"), "tags": _cell(row, "tags")}
    parsed = ParsedRow(line, slug, product, [o for o in options if o[0]], sku, values)
    return (None if problems else parsed), problems
