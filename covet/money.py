"""Money is integer minor units plus an ISO currency: parsing what people type, formatting for display."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "chf": "CHF "}
MAX_AMOUNT = 10**11  # a billion in major units: anything above is a typo


def exponent(currency: str) -> int:
    return 0 if (currency or "").lower() in ZERO_DECIMAL else 2


def parse_money(text: str, currency: str) -> int:
    """'1,290.50' in eur → 129050. Raises ValueError with a message fit for a form."""
    cleaned = re.sub(r"[\s,'_]", "", (text or "").strip()).lstrip("$€£¥")
    if not cleaned:
        raise ValueError("Enter an amount.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"“{text}” is not an amount.") from None
    if not value.is_finite():  # "inf", "nan": Decimal takes them, no till does
        raise ValueError(f"“{text}” is not an amount.")
    places = exponent(currency)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"Use at most {places} decimal places." if places else "Use whole amounts.")
    minor = int((value * 10**places).to_integral_value(ROUND_HALF_UP))
    if minor < 0:
        raise ValueError("The amount cannot be negative.")
    if minor > MAX_AMOUNT:
        raise ValueError("That amount is too large.")
    return minor


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
