"""Errors services raise for the web layer to turn into 404, 409 and 422 answers."""
from __future__ import annotations


class ValidationError(Exception):
    """Input that breaks a rule; `errors` maps field names (or row ids) to messages. Nothing was written."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFoundError(LookupError):
    """No such record for this actor (another store's record is 'not found' too)."""


class ConflictError(Exception):
    """The record changed since the user loaded it; `current` holds what it is now."""

    def __init__(self, current: dict, current_version: int):
        super().__init__("stale version")
        self.current = current
        self.current_version = current_version
