"""RQ entry points for the order queue: the CSV export and bulk "mark fulfilled"."""
from __future__ import annotations

import io
import tempfile
from typing import IO

from covet.accounts.models import User
from covet.audit.services import Actor
from covet.extensions import db
from covet.jobs import job
from covet.jobs.progress import report_progress
from covet.orders.export import export_rows, write_orders_csv

PRIVATE = "private, no-store"
EXPORT_LIMIT = 1_000_000  # ids only (ints) are held in memory; rows are read 500 at a time


def export_key(user_id: int, token: str) -> str:
    """Where a user's export is stored: under their id, so only they can fetch it."""
    return f"exports/orders/{user_id}/{token}.csv"


def export_url(token: str) -> str:
    return f"/admin/orders/exports/{token}.csv"


def _ids(order_ids: list[int] | str | None, query_string: str, actor: Actor) -> list[int]:
    """The explicit ids (a list, or "1,2,3" since job arguments are plain values), else every match."""
    if isinstance(order_ids, str):
        order_ids = [int(part) for part in order_ids.split(",") if part.strip().isdecimal()]
    if order_ids is not None:
        return list(order_ids)
    from covet.orders.queries import filters_from_query, matching_order_ids

    return matching_order_ids(filters_from_query(query_string), actor, limit=EXPORT_LIMIT)


def _save(key: str, data: IO[bytes]) -> None:
    """Store the finished file privately (local disk or S3) without reading it into memory."""
    from covet.media.storage import get_storage

    storage = get_storage()
    size = data.seek(0, io.SEEK_END)
    data.seek(0)
    if hasattr(storage, "write_stream"):  # local disk: copied in chunks
        storage.write_stream(key, data, size)
    else:  # S3: boto3 streams a file body
        storage.put(key, data, "text/csv; charset=utf-8", cache_control=PRIVATE)


@job(queue="low", timeout=3600, retry=(60,))
def export_orders_csv(user_id: int, query_string: str, token: str, order_ids: list[int] | str | None = None) -> int:
    """Write the orders a user may see (matching their filters, or the given ids) to a private CSV file."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        report_progress(0, 0, "This account can no longer export orders.")
        return 0
    actor = Actor.for_user(user)  # the job sees exactly what this user may see, nothing more
    ids = _ids(order_ids, query_string, actor)
    total = len(ids)
    report_progress(0, total, f"Exporting {total:,} orders…")
    with tempfile.TemporaryFile() as raw:  # on disk, not in memory: a million rows is a few hundred MB
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        count = write_orders_csv(export_rows(ids, actor), text,
                                 on_row=lambda n: report_progress(n, total, f"{n:,} of {total:,} orders"))
        text.flush()
        _save(export_key(user_id, token), raw)
        text.detach()
    report_progress(count, total or 1, f"{count:,} orders exported.", result_url=export_url(token))
    return count


@job(queue="low", timeout=3600, retry=(60,))
def bulk_fulfil_orders(user_id: int, query_string: str, idempotency_key: str, order_ids: str | None = None) -> int:
    """Mark fulfilled, as this user, every order matching their filters (or the given ids), with progress.

    Each order goes through the same service as one by one; a rerun (retry) ships nothing twice: every
    shipment's key is derived from the form's key and the order."""
    from covet.idempotency import is_token
    from covet.orders.bulk import MAX_BULK, bulk_fulfil

    if not is_token(idempotency_key):  # enqueued by something other than the form: refuse, ship nothing
        report_progress(0, 0, "This job's idempotency key is not valid: nothing was changed.")
        return 0
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        report_progress(0, 0, "This account can no longer change orders.")
        return 0
    actor = Actor.for_user(user)
    ids = _ids(order_ids, query_string, actor)[:MAX_BULK]
    done, failed = 0, 0
    for start in range(0, len(ids), 100):
        result = bulk_fulfil(ids[start:start + 100], actor, idempotency_key)
        done, failed = done + len(result.done), failed + len(result.failed)
        report_progress(start + len(result.done) + len(result.failed), len(ids),
                        f"{done:,} marked fulfilled, {failed:,} refused (not paid, cancelled…).")
    return done
