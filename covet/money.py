"""Money is integer minor units plus an ISO currency: parsing what people type, formatting for display."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "chf": "CHF "}
# Every amount column is a PostgreSQL INTEGER: a larger amount cannot be stored (21 million in major units).
MAX_AMOUNT = 2**31 - 1
# ASCII digits only: Decimal() also takes "١٢٣" (Arabic-Indic), exponents ("1e400", which quantize() then
# refuses with InvalidOperation) and "inf"; no till does.
AMOUNT = re.compile(r"-?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})")


def exponent(currency: str) -> int:
    return 0 if (currency or "").lower() in ZERO_DECIMAL else 2


def parse_money(text: str, currency: str) -> int:
    """'1,290.50' in eur → 129050. Raises ValueError with a message fit for a form."""
    cleaned = re.sub(r"[\s,'_]", "", (text or "").strip()).lstrip("$€£¥")
    if not cleaned:
        raise ValueError("Enter an amount.")
    if not AMOUNT.fullmatch(cleaned):
        if re.fullmatch(r"-?[0-9]{16,}(?:\.[0-9]*)?", cleaned):
            raise ValueError("That amount is too large.")
        raise ValueError(f"“{_shown(text)}” is not an amount.")
    value = Decimal(cleaned)
    places = exponent(currency)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"Use at most {places} decimal places." if places else "Use whole amounts.")
    minor = int((value * 10**places).to_integral_value(ROUND_HALF_UP))
    if minor < 0:
        raise ValueError("The amount cannot be negative.")
    if minor > MAX_AMOUNT:
        raise ValueError("That amount is too large.")
    return minor


def _shown(text: str) -> str:
    """The input echoed in a message: short, and without control characters."""
    text = "".join(c if c.isprintable() else "?" for c in text.strip())
    return text if len(text) <= 40 else text[:40] + "…"


def to_major(amount: int | None, currency: str) -> str:
    """129050 → '1290.50' (for form inputs)."""
    if amount is None:
        return ""
    places = exponent(currency)
    return f"{Decimal(amount).scaleb(-places):.{places}f}"


def format_money(amount: int | None, currency: str) -> str:
    """Minor units to a display string: 129900, 'usd' → '$1,299.00'."""
    if amount is None:
        return "—"
    currency = (currency or "").lower()
    symbol = SYMBOLS.get(currency, currency.upper() + " ")
    sign = "-" if amount < 0 else ""
    if currency in ZERO_DECIMAL:
        return f"{sign}{symbol}{abs(amount):,}"
    major, minor = divmod(abs(amount), 100)
    return f"{sign}{symbol}{major:,}.{minor:02d}"
