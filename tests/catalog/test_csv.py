"""CSV export and import: round trip, per-row errors from a dry run, all-or-nothing apply, over HTTP."""
import csv
import io
import re

from sqlalchemy import func, select

from covet.catalog.csv_apply import apply_import, plan_import
from covet.catalog.csv_export import export_rows, write_csv
from covet.catalog.models import InventoryAdjustment, Product, Variant
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.stores.models import Store
from tests.catalog.test_views import HX, token

HEADER = "product_slug,product_title,option1_name,option1_value,sku,price,compare_at,stock,active\n"


def run_jobs(app):
    if app.config.get("REDIS_URL"):
        from redis import Redis
        from rq import Queue, SimpleWorker

        connection = Redis.from_url(app.config["REDIS_URL"])
        SimpleWorker([Queue("low", connection=connection)], connection=connection).work(burst=True)
    wait_for_embedded_jobs()


def test_export_has_one_row_per_variant_with_options(db, dress, merchant_actor):
    rows = list(export_rows(merchant_actor.store_id))
    assert len(rows) == 6
    assert {(r["option1_name"], r["option2_name"]) for r in rows} == {("Size", "Colour")}
    assert rows[0]["price"] == "100.00" and rows[0]["currency"] == "EUR"
    parsed = list(csv.DictReader(io.StringIO(write_csv(iter(rows)).decode("utf-8-sig"))))
    assert len(parsed) == 6 and parsed[0]["sku"] == rows[0]["sku"]


def test_cells_that_look_like_formulas_are_defused(db, merchant_actor):
    data = write_csv(iter([{"product_slug": "x", "product_title": "=HYPERLINK(\"http://evil\")", "price": "-1"}]))
    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",-1," in text  # numbers stay numbers


def test_round_trip_imports_cleanly_and_changes_nothing(db, dress, merchant_actor):
    store = db.session.get(Store, merchant_actor.store_id)
    data = write_csv(export_rows(store.id))
    _, report = plan_import(data, store)
    assert report.errors == [] and report.variants_new == 0 and report.variants_updated == 6


def test_dry_run_lists_every_row_problem_and_writes_nothing(db, dress, merchant_actor):
    store = db.session.get(Store, merchant_actor.store_id)
    other_sku = dress.variants[0].sku
    data = (HEADER + "coat,Coat,Size,S,COAT-S,abc,,,\n"        # line 2: price
            "coat,Coat,Size,M,COAT-M,100,,,\n"                    # line 3: fine
            "coat,Coat,Size,L,COAT-M,100,,,\n"                    # line 4: SKU repeats line 3
            f"coat,Coat,Size,XL,{other_sku},100,,,\n"             # line 5: SKU of another product
            "coat,Coat,Size,XS,COAT-XS,100,90,,\n"                # line 6: compare-at below price
            "coat,Coat,Size,XXS,COAT-XXS,100,,-2,\n").encode()    # line 7: stock
    _, report = plan_import(data, store)
    found = {(e.line, e.message) for e in report.errors}
    assert any(line == 2 and "price" in m for line, m in found)
    assert (4, "SKU repeats line 3") in found
    assert (5, "SKU belongs to product silk-dress") in found
    assert (6, "compare_at must be higher than price") in found
    assert any(line == 7 and "stock" in m for line, m in found)
    assert not any(line == 3 for line, _ in found)
    assert apply_import(data, store, merchant_actor).applied is False
    assert db.session.scalar(select(func.count()).select_from(Product).where(Product.slug == "coat")) == 0


def test_apply_creates_and_updates_with_stock_through_the_ledger(db, dress, merchant_actor):
    store = db.session.get(Store, merchant_actor.store_id)
    v = dress.variants[0]
    size = next(val.value for val in v.option_values if val.option.name == "Size")
    colour = next(val.value for val in v.option_values if val.option.name == "Colour")
    data = ("product_slug,option1_name,option1_value,option2_name,option2_value,sku,price,stock\n"
            f"silk-dress,Size,{size},Colour,{colour},{v.sku},95.00,7\n"
            "wool-coat,Size,S,,,COAT-S,450,2\nwool-coat,Size,M,,,COAT-M,450,0\n").encode()
    report = apply_import(data, store, merchant_actor)
    assert report.applied and report.errors == [] and report.products_new == 1 and report.variants_new == 2
    db.session.expire_all()
    updated = db.session.get(Variant, v.id)
    assert (updated.price_amount, updated.stock_on_hand) == (9500, 7)
    assert db.session.scalar(select(InventoryAdjustment.note).where(InventoryAdjustment.variant_id == v.id)) == \
        "CSV import"
    coat = db.session.scalar(select(Product).where(Product.slug == "wool-coat"))
    assert [o.name for o in coat.options] == ["Size"] and len(coat.variants) == 2
    again = apply_import(data, store, merchant_actor)  # the same file twice changes nothing more
    assert again.applied and db.session.scalar(select(func.count()).select_from(InventoryAdjustment)) == 2


def test_import_and_export_over_http_with_progress(app, client, db, signed_in, dress):
    response = client.post("/admin/products/imports", data={
        "csrf_token": token(client), "file": (io.BytesIO((HEADER + "coat,Coat,Size,S,COAT-S,abc,,,\n").encode()),
                                              "products.csv")})
    assert response.status_code == 303 and "/admin/jobs/" in response.headers["Location"]
    run_jobs(app)
    progress = client.get(response.headers["Location"], headers=HX).get_data(as_text=True)
    assert "Done." in progress and "1 problem" in progress
    report_url = re.search(r'id="job-result" href="([^"]+)"', progress).group(1)
    report = client.get(report_url).get_data(as_text=True)
    assert "The file has problems" in report and "is not an amount" in report and "apply-import" not in report

    good = (HEADER + "coat,Coat,Size,S,COAT-S,450,,3,\n").encode()
    response = client.post("/admin/products/imports", data={"csrf_token": token(client),
                                                            "file": (io.BytesIO(good), "products.csv")})
    run_jobs(app)
    progress = client.get(response.headers["Location"]).get_data(as_text=True)
    report_url = re.search(r'id="job-result" href="([^"]+)"', progress).group(1)
    assert "Ready to import" in client.get(report_url).get_data(as_text=True)
    applied = client.post(report_url + "/apply", data={"csrf_token": token(client)})
    run_jobs(app)
    assert applied.status_code == 303
    assert db.session.scalar(select(Variant.stock_on_hand).where(Variant.sku == "COAT-S")) == 3

    export = client.post("/admin/products/exports", data={"csrf_token": token(client)})
    run_jobs(app)
    progress = client.get(export.headers["Location"]).get_data(as_text=True)
    download = re.search(r'id="job-result" href="([^"]+)"', progress).group(1)
    body = client.get(download)
    assert body.status_code == 200 and body.headers["Content-Type"].startswith("text/csv")
    assert body.get_data(as_text=True).count("\n") == 1 + 7  # header + 6 dress variants + the coat


def test_another_merchant_cannot_download(app, client, db, signed_in, make_user, make_store):
    from tests.conftest import login

    export = client.post("/admin/products/exports", data={"csrf_token": token(client)})
    run_jobs(app)
    download = re.search(r'id="job-result" href="([^"]+)"',
                         client.get(export.headers["Location"]).get_data(as_text=True)).group(1)
    other = app.test_client()
    login(other, make_user("merchant", store=make_store("rival")).email)
    assert other.get(download).status_code == 404
    # nor through the public media route, where the local-disk backend keeps the file
    key = download.removeprefix("/admin/products/")
    assert client.get(download).status_code == 200 and app.test_client().get(f"/media/{key}").status_code == 404
