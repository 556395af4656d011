"""Idempotency keys that users send (one per rendered form): plain tokens, never markup.

A key travels into job arguments, which rq-dashboard shows, and into Stripe's Idempotency-Key header, so
anything but `[A-Za-z0-9_-]{1,64}` is refused before it is stored or enqueued.
"""
from __future__ import annotations

import re

from covet.errors import ValidationError

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
BAD_KEY = ("This form's idempotency key is not valid (letters, digits, '-' and '_' only, at most 64). "
           "Reload the page and try again.")


def is_token(value: object) -> bool:
    """True for a 1–64 character ASCII token of letters, digits, '-' and '_'."""
    return isinstance(value, str) and KEY_PATTERN.fullmatch(value) is not None


def checked_key(value: object, field: str = "order") -> str:
    """The key itself, or a ValidationError (422) naming `field`."""
    if not is_token(value):
        raise ValidationError({field: BAD_KEY})
    return value
