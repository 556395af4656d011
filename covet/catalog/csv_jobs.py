"""RQ entry points for CSV export and import; files go through the media storage (S3 or local disk)."""
from __future__ import annotations

import json

from covet.accounts.models import User
from covet.audit.services import Actor
from covet.catalog.csv_apply import apply_import, plan_import
from covet.catalog.csv_export import export_rows, write_csv
from covet.errors import ValidationError
from covet.extensions import db
from covet.jobs import job
from covet.jobs.progress import report_progress
from covet.stores.models import Store

PRIVATE = "private, no-store"


def export_key(store_id: int, token: str) -> str:
    return f"exports/{store_id}/{token}.csv"


def report_key(store_id: int, token: str) -> str:
    return f"imports/{store_id}/{token}.report.json"


def upload_key(store_id: int, token: str) -> str:
    return f"imports/{store_id}/{token}.csv"


def _storage():
    from covet.media.storage import get_storage

    return get_storage()


@job(queue="low", timeout=900, retry=(30,))
def export_products_csv(store_id: int, token: str) -> int:
    """Write the store's catalogue to a CSV file the requester downloads."""
    store = db.session.get(Store, store_id)
    report_progress(0, 1, "Reading the catalogue…")
    rows = list(export_rows(store_id))
    data = write_csv(iter(rows), on_row=lambda n: report_progress(n, len(rows), f"{n:,} of {len(rows):,} rows"))
    _storage().put(export_key(store_id, token), data, "text/csv; charset=utf-8", cache_control=PRIVATE)
    report_progress(len(rows), len(rows) or 1, f"{len(rows):,} variants of {store.name}",
                    result_url=f"/admin/products/exports/{store_id}/{token}.csv")
    return len(rows)


@job(queue="low", timeout=900, retry=())
def import_products_csv(store_id: int, token: str, user_id: int, apply: bool) -> dict:
    """Check (dry run) or apply an uploaded CSV; the report is stored for the result page."""
    store, user = db.session.get(Store, store_id), db.session.get(User, user_id)
    report_progress(0, 2, "Checking the file…" if not apply else "Applying the import…")
    data = _storage().get(upload_key(store_id, token))
    try:
        report = apply_import(data, store, Actor.for_user(user)) if apply else plan_import(data, store)[1]
        result = report.as_dict()
    except ValidationError as exc:
        db.session.rollback()
        result = {"store_id": store_id, "rows": 0, "errors": [{"line": 1, "sku": "", "message": m}
                                                              for m in exc.errors.values()], "applied": False}
    _storage().put(report_key(store_id, token), json.dumps(result).encode(), "application/json",
                   cache_control=PRIVATE)
    report_progress(2, 2, f"{len(result['errors'])} problem(s)" if result["errors"] else
                    ("Imported." if apply else "No problems found."),
                    result_url=f"/admin/products/imports/{store_id}/{token}")
    return {"errors": len(result["errors"]), "applied": result.get("applied", False)}
