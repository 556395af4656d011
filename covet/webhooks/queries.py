"""Read-only selects for the webhook events screen: keyset pages, counts per status, the types present."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, tuple_

from covet.dbtypes import UTCDateTime
from covet.extensions import db
from covet.web.params import parse_id
from covet.webhooks.models import EVENT_STATUSES, StripeEvent

PAGE_SIZE = 50
MAX_TYPES = 200  # Stripe has about 250 event types; we subscribe to a dozen
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LIST_COLUMNS = (StripeEvent.id, StripeEvent.event_id, StripeEvent.type, StripeEvent.status, StripeEvent.attempts,
                StripeEvent.last_error, StripeEvent.received_at, StripeEvent.processed_at)


@dataclass
class EventFilters:
    type: str = ""
    status: str = ""
    q: str = ""
    after: str = ""

    def as_query(self, **changes) -> dict:
        values = {"type": self.type, "status": self.status, "q": self.q, "after": self.after, **changes}
        return {k: v for k, v in values.items() if v not in ("", None)}


@dataclass
class EventRow:
    """One line of the list: everything but the payload."""

    id: int
    event_id: str
    type: str
    status: str
    attempts: int
    last_error: str | None
    received_at: dt.datetime
    processed_at: dt.datetime | None

    @property
    def error_summary(self) -> str:
        """The exception line of a traceback (its last line), which says what went wrong."""
        lines = (self.last_error or "").strip().splitlines()
        return lines[-1][:160] if lines else ""


@dataclass
class Page:
    rows: list[EventRow] = field(default_factory=list)
    next_after: str | None = None


def encode_cursor(received_at: dt.datetime, row_id: int) -> str:
    """'<microseconds since the epoch>.<id>': exact, URL-safe, no time zone to get wrong."""
    return f"{(received_at - EPOCH) // dt.timedelta(microseconds=1)}.{row_id}"


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """The (received_at, id) a cursor names; None (the first page) for anything else."""
    micros, _, row_id = cursor.partition(".")
    if parse_id(row_id) is None or not re.fullmatch(r"-?[0-9]{1,18}", micros):
        return None
    try:
        return EPOCH + dt.timedelta(microseconds=int(micros)), parse_id(row_id)
    except OverflowError:
        return None


def event_page(filters: EventFilters) -> Page:
    """One page of events, newest first, keyset by (received_at, id)."""
    stmt = select(*LIST_COLUMNS)
    if filters.q:
        stmt = stmt.where(StripeEvent.event_id == filters.q)  # the unique index: exact ids only
    if filters.type:
        stmt = stmt.where(StripeEvent.type == filters.type)
    if filters.status:
        stmt = stmt.where(StripeEvent.status == filters.status)
    if filters.after and (position := decode_cursor(filters.after)):
        stmt = stmt.where(tuple_(StripeEvent.received_at, StripeEvent.id)
                          < tuple_(literal(position[0], UTCDateTime()), literal(position[1])))
    stmt = stmt.order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc()).limit(PAGE_SIZE + 1)
    rows = [EventRow(*values) for values in db.session.execute(stmt)]
    page = Page(rows[:PAGE_SIZE])
    if len(rows) > PAGE_SIZE:
        last = page.rows[-1]
        page.next_after = encode_cursor(last.received_at, last.id)
    return page


def event_row(row_id: int) -> EventRow | None:
    """One list line, to re-render after a replay."""
    values = db.session.execute(select(*LIST_COLUMNS).where(StripeEvent.id == row_id)).first()
    return EventRow(*values) if values else None


def status_counts() -> dict[str, int]:
    """Events per status, every status present (one GROUP BY over four values)."""
    counts = dict(db.session.execute(select(StripeEvent.status, func.count()).group_by(StripeEvent.status)).all())
    return {status: counts.get(status, 0) for status in EVENT_STATUSES}


def event_types(limit: int = MAX_TYPES) -> list[str]:
    """The distinct types stored, A–Z: a loose index scan, one probe of the type index per type."""
    first = select(func.min(StripeEvent.type).label("type")).cte("event_types", recursive=True)
    following = select(func.min(StripeEvent.type)).where(StripeEvent.type > first.c.type).scalar_subquery()
    types = first.union_all(select(following).where(first.c.type.is_not(None)))
    return list(db.session.scalars(select(types.c.type).where(types.c.type.is_not(None)).limit(limit)))
