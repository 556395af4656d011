"""Column types and helpers shared by every domain's models."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware (use as a callable default)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use covet.dbtypes.utcnow() or an aware value")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def Currency():  # noqa: N802 - reads like a type in model declarations
    """ISO 4217 currency code, stored lower-case like Stripe does (usd, eur)."""
    return String(3)


def enum_check(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that keeps a status column inside its allowed values."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


from sqlalchemy import JSON  # noqa: E402
from sqlalchemy.dialects.postgresql import JSONB  # noqa: E402
from sqlalchemy.orm import Mapped, mapped_column  # noqa: E402

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class TimestampMixin:
    """created_at / updated_at, both UTC and set by the application clock."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                    nullable=False)


def insert_if_absent(model, conflict_column: str, **values) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING: the new row's id, or None when `conflict_column` already had the value.

    One statement decides the winner, even when two workers race on the same key."""
    from covet.extensions import db

    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=[conflict_column])
    return db.session.scalar(statement.returning(model.id))
