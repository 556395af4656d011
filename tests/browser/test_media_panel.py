"""In Debian's Chromium: drop images on the panel, watch them become ready, describe, reorder and delete them;
and the same panel without JavaScript. Local-disk storage; jobs in-process, or a real RQ worker with Redis."""
import re

import pytest
from playwright.sync_api import expect
from rq import Queue, SimpleWorker

from covet.jobs.embedded import wait_for_embedded_jobs
from covet.redis_client import get_redis
from tests.browser.test_admin_shell import _sign_in
from tests.conftest import REDIS_URL
from tests.media.images import camera_jpeg, transparent_png
from tests.media.support import fresh_bucket, new_product, own_cache_prefix, serving, serving_with_s3


@pytest.fixture(autouse=True)
def cache_prefix(app):
    with own_cache_prefix(app) as prefix:
        yield prefix


@pytest.fixture
def s3(app, moto_endpoint):
    return fresh_bucket(app, moto_endpoint)


@pytest.fixture
def served_app(app, database_url, tmp_path):
    """The app on loopback with local-disk storage."""
    with serving(database_url, tmp_path / "served") as served:
        yield served


@pytest.fixture
def served_s3_app(app, database_url, tmp_path, s3):
    """The app on loopback storing media in S3 on moto, with SSE-KMS."""
    with serving_with_s3(database_url, tmp_path / "served", s3) as served:
        yield served


@pytest.fixture
def work(request):
    """Run a served app's image jobs: in embedded mode they run by themselves; with Redis, one worker burst."""
    if REDIS_URL:
        request.getfixturevalue("redis_conn")

    def run(served):
        if REDIS_URL:
            with served.app_context():
                SimpleWorker([Queue("low", connection=get_redis())], connection=get_redis()).work(burst=True)
        else:
            wait_for_embedded_jobs()
    return run


@pytest.fixture
def open_editor(page_factory, make_user, make_store):
    """A merchant signed in on the served app, on a product's editor page (which holds the image panel)."""
    def open_page(served, javascript=True):
        store = make_store("maison-lune")
        user = make_user("merchant", store=store)
        product = new_product(store)
        page = page_factory(javascript=javascript)
        _sign_in(page, served.base_url, user.email)
        expect(page.locator("#signed-in-as")).to_have_text(user.email)
        page.goto(f"{served.base_url}/admin/products/{product.id}")
        expect(page.locator("#media-panel h2")).to_have_text("Images")
        return page, product
    return open_page


def picture(name, data, mime="image/jpeg"):
    return {"name": name, "mimeType": mime, "buffer": data}


def drop_files(page, selector, files):
    """Drag files from the desktop onto an element: the drop zone receives them in a DataTransfer."""
    page.evaluate("""([selector, files]) => {
        const transfer = new DataTransfer();
        for (const f of files) transfer.items.add(new File([new Uint8Array(f.bytes)], f.name, {type: f.mimeType}));
        const zone = document.querySelector(selector);
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }
    }""", [selector, [{"name": f["name"], "mimeType": f["mimeType"], "bytes": list(f["buffer"])} for f in files]])


def test_upload_images_see_them_become_ready_then_describe_reorder_and_delete(served_app, open_editor, work):
    page, product = open_editor(served_app)
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete this image?"
    drop_files(page, f"#media-upload-{product.id}", [picture("scarf.jpg", camera_jpeg(size=(2000, 1500))),
                                                      picture("logo.png", transparent_png(), "image/png")])
    page.set_input_files(f"#media-upload-{product.id} input[type=file]", [picture("notes.txt", b"text", "text/plain")])
    expect(page.locator(".media-upload.is-error")).to_contain_text(
        "notes.txt: only JPEG, PNG, WebP and AVIF images can be uploaded.")
    items = page.locator(".media-item")
    expect(items).to_have_count(2)
    work(served_app)
    expect(page.locator(".media-item .badge-ok")).to_have_count(2, timeout=10_000)  # polled every 2 s until ready
    thumbnail = page.locator(".media-item img").first
    expect(thumbnail).to_have_attribute("src", re.compile(r"/media/products/\d+/[0-9a-f]{32}/320\.webp$"))
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=thumbnail.element_handle())

    first = items.first
    name = first.locator(".media-name").inner_text().split()[0]
    first.locator("input[name=alt_text]").fill("Ivory silk scarf, folded")
    first.locator("button:has-text('Save')").click()
    expect(page.locator(".toast")).to_contain_text("Alt text saved.")

    with page.expect_response(lambda r: r.url.endswith("/media/order")):
        items.nth(1).locator("button:has-text('Up')").click()  # the no-JS fallback, sent by htmx here
    expect(items.nth(1).locator(".media-name")).to_contain_text(name)

    with page.expect_response(lambda r: r.url.endswith("/media/order") and r.request.method == "POST") as saved:
        items.first.locator(".media-handle").drag_to(items.nth(1).locator(".media-meta"))
    assert saved.value.status == 200
    expect(items.first.locator(".media-name")).to_contain_text(name)  # dragged back to the top
    page.reload()
    expect(items.first.locator(".media-name")).to_contain_text(name)

    items.first.locator("button:has-text('Delete')").click()
    expect(items).to_have_count(1)
    assert not [error for error in page.console_errors if "Content Security Policy" in error], page.console_errors


def test_without_javascript_the_form_uploads_through_the_server_and_a_reload_shows_the_status(
        served_app, open_editor, work):
    page, product = open_editor(served_app, javascript=False)
    page.set_input_files(f"#media-upload-{product.id} input[type=file]", [picture("scarf.jpg", camera_jpeg())])
    page.click(f"#media-upload-{product.id} button:has-text('Upload')")
    expect(page.locator(".flash")).to_contain_text("1 image uploaded; processing now.")
    expect(page).to_have_url(f"{page.url.split('/admin/')[0]}/admin/products/{product.id}")  # back to the editor
    expect(page.locator(".media-item .media-name")).to_contain_text("scarf.jpg")
    work(served_app)
    page.reload()
    expect(page.locator(".media-item .badge")).to_have_text("Ready", timeout=10_000)


def test_upload_straight_to_s3_with_kms_headers_from_the_browser(served_s3_app, s3, open_editor, work):
    page, product = open_editor(served_s3_app)
    with page.expect_response(lambda r: r.request.method == "PUT" and s3.endpoint in r.url) as put:
        page.set_input_files(f"#media-upload-{product.id} input[type=file]",
                             [picture("scarf.jpg", camera_jpeg(size=(1800, 1200)))])
    assert put.value.status == 200
    assert put.value.request.headers["x-amz-server-side-encryption"] == "aws:kms"
    expect(page.locator(".media-item")).to_have_count(1)
    work(served_s3_app)
    expect(page.locator(".media-item .badge")).to_have_text("Ready", timeout=10_000)
    original = next(key for key in s3.object_keys() if key.endswith("/original.jpg"))
    head = s3.client.head_object(Bucket=s3.bucket, Key=original)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", s3.kms_key_arn)
    thumbnail = page.locator(".media-item img")
    expect(thumbnail).to_have_attribute("src", re.compile(r"/320\.webp\?.*X-Amz-Signature="))
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=thumbnail.element_handle())
    assert not page.console_errors, page.console_errors
