"""CSV export and import screens: start a job, watch its progress bar, download or read the report."""
from __future__ import annotations

import json
import re
import uuid

from flask import Response, abort, request, url_for
from flask_login import current_user

from covet.catalog import csv_jobs
from covet.catalog.views import _stores, bp
from covet.extensions import db
from covet.jobs import enqueue
from covet.jobs.progress import remember_owner
from covet.web.htmx import redirect_after_post, render_page
from covet.web.params import parse_id
from covet.web.policy import EVERYONE, allow

TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _store_id(value) -> int:
    """The store a request may act on: a merchant's own, or the one staff chose."""
    if current_user.role == "merchant":
        store_id = current_user.store_id
    else:
        store_id = parse_id(value) or 0
    if store_id not in {s.id for s in _stores()}:
        abort(404)
    return store_id


def _scoped(store_id: int, token: str) -> None:
    if not TOKEN.match(token) or (current_user.role == "merchant" and store_id != current_user.store_id):
        abort(404)


def _start(fn, *args) -> Response:
    job_id = enqueue(fn, *args)
    remember_owner(job_id, current_user.id)
    db.session.commit()
    return redirect_after_post(url_for("jobs.job_progress", job_id=job_id))


@bp.post("/exports")
@allow(*EVERYONE)
def export_start():
    """Start a CSV export of one store's catalogue."""
    return _start(csv_jobs.export_products_csv, _store_id(request.form.get("store_id")), uuid.uuid4().hex)


@bp.get("/exports/<int:store_id>/<token>.csv")
@allow(*EVERYONE)
def export_download(store_id: int, token: str):
    """Download a finished export."""
    _scoped(store_id, token)
    from covet.media.storage import StorageError, get_storage

    try:
        data = get_storage().get(csv_jobs.export_key(store_id, token))
    except (StorageError, FileNotFoundError, KeyError):
        abort(404)
    return Response(data, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="covet-products-{store_id}.csv"', "Cache-Control": "no-store"})


@bp.route("/imports", methods=["GET", "POST"])
@allow(*EVERYONE)
def import_start():
    """Upload a CSV; a dry run checks every row before anything changes."""
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read(csv_jobs_max() + 1) if upload else b""
        if not data:
            error = "Choose a CSV file."
        elif len(data) > csv_jobs_max():
            error = "The file is larger than 10 MB."
        else:
            store_id, token = _store_id(request.form.get("store_id")), uuid.uuid4().hex
            from covet.media.storage import get_storage

            get_storage().put(csv_jobs.upload_key(store_id, token), data, "text/csv", cache_control=csv_jobs.PRIVATE)
            return _start(csv_jobs.import_products_csv, store_id, token, current_user.id, False)
    return render_page("catalog/import.html", stores=_stores(), error=error, http_status=422 if error else 200)


def csv_jobs_max() -> int:
    from covet.catalog.csv_import import MAX_BYTES

    return MAX_BYTES


@bp.get("/imports/<int:store_id>/<token>")
@allow(*EVERYONE)
def import_report(store_id: int, token: str):
    """What the dry run (or the import) found."""
    _scoped(store_id, token)
    from covet.media.storage import StorageError, get_storage

    try:
        report = json.loads(get_storage().get(csv_jobs.report_key(store_id, token)))
    except (StorageError, FileNotFoundError, KeyError):
        abort(404)
    return render_page("catalog/import_report.html", report=report, store_id=store_id, token=token)


@bp.post("/imports/<int:store_id>/<token>/apply")
@allow(*EVERYONE)
def import_apply(store_id: int, token: str):
    """Apply a checked file (it is checked again, in the same transaction)."""
    _scoped(store_id, token)
    return _start(csv_jobs.import_products_csv, store_id, token, current_user.id, True)
