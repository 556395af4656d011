"""Ids and whole numbers from query args, form fields, JSON and CSV cells: ASCII digits, within a column's range.

`str.isdigit()` says yes to "²" (which `int()` then refuses: a 500) and `int()` takes Arabic-Indic digits,
"1_000" and values no INTEGER column holds ("integer out of range" on PostgreSQL). Everything here answers
None or a ValueError with a message fit for a form instead, and never touches the request.
"""
from __future__ import annotations

import re

from covet.web.converters import MAX_ID

_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 ASCII digits: more is out of every range here, and int() stays cheap
INT_MAX = 2**31 - 1  # PostgreSQL INTEGER: stock, weights, amounts and versions are all stored in one
# C0 controls but tab, LF and CR: PostgreSQL cannot store NUL in text, and nobody types the others.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def parse_id(value) -> int | None:
    """A record id (1..MAX_ID) from text such as a query arg, or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    if not isinstance(value, str) or not _DIGITS.fullmatch(value.strip()):
        return None
    number = int(value.strip())
    return number if 1 <= number <= MAX_ID else None


def parse_ids(values, limit: int | None = None) -> list[int]:
    """The valid ids of a list (ticked checkboxes, `order_ids`), in order, duplicates dropped; the rest ignored."""
    ids = list(dict.fromkeys(i for i in (parse_id(v) for v in values or ()) if i is not None))
    return ids[:limit] if limit is not None else ids


def parse_whole(text: str, low: int = 0, high: int = INT_MAX) -> int:
    """A whole number typed by a person ("12", "-3" when low < 0) in low..high; ValueError says what is wrong."""
    text = (text or "").strip() if isinstance(text, str) else ""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
    if not _DIGITS.fullmatch(body):
        if body.isascii() and body.isdigit():  # only too many digits: say the range, not "not a number"
            raise ValueError(f"Enter a number from {low:,} to {high:,}.")
        raise ValueError("Enter a whole number.")
    value = sign * int(body)
    if not low <= value <= high:
        raise ValueError(f"Enter a number from {low:,} to {high:,}.")
    return value


def parse_int_or_none(value, low: int = 0, high: int = INT_MAX) -> int | None:
    """A whole number in low..high (a `version`, a `quantity`), or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if low <= value <= high else None
    try:
        return parse_whole(value, low, high)
    except ValueError:
        return None
