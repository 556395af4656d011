"""The dry run finds everything apply would fail on — numbers no column holds, odd digits, control characters,
huge cells, texts longer than their columns — as problems on their rows; the job never crashes."""
import csv
import io

import pytest
from sqlalchemy import func, select

from covet.catalog.csv_apply import apply_import, plan_import
from covet.catalog.csv_jobs import import_products_csv, report_key, upload_key
from covet.catalog.models import Product
from covet.stores.models import Store

COLUMNS = ["product_slug", "product_title", "sku", "price", "stock", "weight_grams", "barcode", "brand",
           "option1_name", "option1_value"]


def _file(*rows: dict) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({"product_slug": "coat", "price": "100", **row})
    return out.getvalue().encode()


@pytest.mark.parametrize("row, problem", [
    ({"sku": "A-1", "stock": str(2**31)}, "stock must be a whole number from 0 to 10,000,000"),
    ({"sku": "A-1", "stock": "9" * 5000}, "stock must be a whole number from 0 to 10,000,000"),
    ({"sku": "A-1", "weight_grams": str(2**31)}, "weight_grams must be a whole number from 0 to 1,000,000"),
    ({"sku": "A-1", "stock": "²"}, "stock must be a whole number from 0 to 10,000,000"),
    ({"sku": "A-1", "stock": "٣"}, "stock must be a whole number from 0 to 10,000,000"),
    ({"sku": "A-1", "price": "1e400"}, "price: “1e400” is not an amount."),
    ({"sku": "A-1", "price": "²"}, "price: “²” is not an amount."),
    ({"sku": "A-1", "price": "99999999999"}, "price: That amount is too large."),
    ({"sku": "A-1", "product_title": "Coat\x00"}, "product_title: contains a control character"),
    ({"sku": "A-\x00"}, "sku: contains a control character"),
    ({"sku": "A-1", "brand": "x" * 1_000_000}, "brand: longer than 10,000 characters"),
    ({"sku": "A-1", "product_title": "x" * 201}, "product_title is longer than 200 characters"),
    ({"sku": "A-1", "option1_name": "S" * 61, "option1_value": "x"},
     "option names are at most 60 characters, values 80"),
    ({"sku": "A-1", "barcode": "not a barcode!"}, "barcode must be up to 64 letters, digits or dashes"),
])
def test_the_dry_run_reports_what_apply_would_refuse(db, merchant_actor, row, problem):
    store = db.session.get(Store, merchant_actor.store_id)
    data = _file({"sku": "GOOD-1"}, row)
    _, report = plan_import(data, store)
    assert [(e.line, e.message) for e in report.errors] == [(3, problem)]
    assert all(len(e.sku) <= 64 and "\x00" not in e.sku for e in report.errors)
    assert apply_import(data, store, merchant_actor).applied is False
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_the_largest_values_the_editor_takes_import(db, merchant_actor):
    store = db.session.get(Store, merchant_actor.store_id)
    data = _file({"sku": "BIG-1", "stock": "10000000", "weight_grams": "1000000", "price": "21474836.47",
                  "product_title": "x" * 200, "barcode": "0123-4567"})
    report = apply_import(data, store, merchant_actor)
    assert report.errors == [] and report.applied


def test_a_one_megabyte_cell_is_a_row_problem_in_the_job_report(app, db, merchant_actor):
    import json

    from covet.media.storage import get_storage

    store = db.session.get(Store, merchant_actor.store_id)
    get_storage().put(upload_key(store.id, "t" * 32), _file({"sku": "A-1", "product_title": "x" * 1_048_576}),
                      "text/csv")
    assert import_products_csv(store.id, "t" * 32, merchant_actor.user_id, False) == {"errors": 1, "applied": False}
    report = json.loads(get_storage().get(report_key(store.id, "t" * 32)))
    assert report["errors"] == [{"line": 2, "sku": "A-1", "message": "product_title: longer than 10,000 characters"}]
