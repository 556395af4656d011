"""Keyset cursors (`after=`) as the list pages write them: base64 JSON `[sort value, id]`.

A cursor comes back from the URL, so anyone can forge one. Reading it checks every part — shape, types,
ranges, an aware datetime — and answers None for anything we would not have written: the first page,
never a 500 from a naive datetime, `1e400` or an id no INTEGER column holds.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from covet.web.params import INT_MAX, parse_id

MAX_CURSOR = 400  # ours are well under 100 characters


def encode_pair(value, record_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, record_id], default=str).encode()).decode().rstrip("=")


def decode_pair(cursor: str) -> tuple[object, int] | None:
    """(sort value, id) from a cursor, the value still raw JSON; None unless the id is a valid record id."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR or not cursor.isascii():
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(values, list) or len(values) != 2 or not isinstance(values[1], int):
        return None
    record_id = parse_id(values[1])
    return None if record_id is None else (values[0], record_id)


def cursor_datetime(value) -> dt.datetime | None:
    """An aware datetime from a cursor's ISO text; None for anything else (naive, a bare date, a number)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None or not 1 < moment.year < 9999:
        return None
    return moment


def cursor_int(value, low: int = 0, high: int = INT_MAX) -> int | None:
    """A whole number from a cursor (an amount), within an INTEGER column's range; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def cursor_text(value, max_length: int = 200) -> str | None:
    """A text sort value (a title) from a cursor; None for anything else."""
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
        return None
    return value
