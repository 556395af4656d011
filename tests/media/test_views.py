"""The panel's endpoints: validation before any upload, htmx fragments and full pages, order, alt text,
deletion, the no-JavaScript upload form, CSRF, and an audit entry for every change."""
import io
import json

from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.media.models import Media
from tests.media.images import camera_jpeg, transparent_png


def media_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Media))


def actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_presign_answers_with_the_upload_to_make_and_a_pending_image(uploader, db):
    response = uploader.presign("scarf.jpg", "image/jpeg", 1234)
    assert response.status_code == 201
    body = response.get_json()
    assert body["upload"]["method"] == "PUT" and body["upload"]["expires_in"] == 300
    assert body["confirm_url"] == f"/admin/media/{body['media_id']}/confirm"
    media = db.session.get(Media, body["media_id"])
    assert (media.status, media.byte_size, media.content_type) == ("pending", 1234, "image/jpeg")
    assert media.s3_key.startswith(f"products/{uploader.product.id}/") and media.s3_key.endswith("/original.jpg")


def test_a_file_that_is_not_an_image_type_is_refused_before_any_upload(uploader, db):
    response = uploader.presign("notes.txt", "text/plain", 100)
    assert response.status_code == 422
    assert response.get_json() == {"error": "notes.txt: only JPEG, PNG, WebP and AVIF images can be uploaded."}
    assert media_count(db) == 0


def test_a_25_mb_file_is_refused_before_any_upload(uploader, db):
    response = uploader.presign("huge.jpg", "image/jpeg", 25 * 1024 * 1024)
    assert response.status_code == 422
    assert response.get_json()["error"] == "huge.jpg is 25.0 MB; images must be 20 MB or smaller."
    assert media_count(db) == 0
    assert uploader.presign("empty.png", "image/png", 0).get_json()["error"] == "empty.png is empty."


def test_confirming_before_the_file_arrived_says_so(uploader, db):
    body = uploader.presign("scarf.jpg", "image/jpeg", 1234).get_json()
    response = uploader.confirm(body["confirm_url"])
    assert response.status_code == 422
    assert response.get_json()["error"] == "The file did not reach storage. Upload it again."
    assert db.session.get(Media, body["media_id"]).status == "pending"


def test_json_endpoints_need_the_csrf_header(uploader, client):
    response = client.post(f"/admin/products/{uploader.product.id}/media/uploads",
                           json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10})
    assert response.status_code == 400


def test_confirming_twice_queues_the_work_once(uploader, run_jobs, db):
    media_id = uploader.upload(camera_jpeg(size=(800, 600)))
    again = uploader.confirm(f"/admin/media/{media_id}/confirm")
    assert again.status_code == 200 and again.get_json()["status"] == "processing"
    assert actions(db).count("media.uploaded") == 1
    run_jobs()
    assert uploader.confirm(f"/admin/media/{media_id}/confirm").get_json()["status"] == "ready"


def test_panel_is_a_fragment_for_htmx_and_a_page_otherwise(uploader, client, htmx_headers):
    url = f"/admin/products/{uploader.product.id}/media"
    fragment = client.get(url, headers=htmx_headers).get_data(as_text=True)
    assert "<html" not in fragment and 'id="media-panel"' in fragment
    page = client.get(url)
    assert "<html" in page.get_data(as_text=True) and "HX-Request" in page.headers["Vary"]
    assert f'action="/admin/products/{uploader.product.id}/media"' in page.get_data(as_text=True)


def test_an_item_polls_while_processing_and_stops_once_ready(uploader, run_jobs, client, htmx_headers):
    media_id = uploader.upload(camera_jpeg(size=(800, 600)))
    working = client.get(f"/admin/media/{media_id}", headers=htmx_headers).get_data(as_text=True)
    assert "<html" not in working and f'id="media-item-{media_id}"' in working
    assert 'hx-trigger="every 2s"' in working and "Processing" in working
    run_jobs()
    done = client.get(f"/admin/media/{media_id}", headers=htmx_headers).get_data(as_text=True)
    assert "hx-trigger" not in done and "Ready" in done and "/320.webp" in done
    assert "<html" in client.get(f"/admin/media/{media_id}").get_data(as_text=True)


def test_a_failed_item_shows_its_reason(uploader, run_jobs, client, htmx_headers):
    media_id = uploader.upload(b"not an image at all", "image/png", "x.png")
    run_jobs()
    html = client.get(f"/admin/media/{media_id}", headers=htmx_headers).get_data(as_text=True)
    assert "Failed" in html and "Not an image: upload a JPEG, PNG, WebP or AVIF file." in html


def test_alt_text_saved_with_htmx_refused_when_too_long_and_posted_without_js(
        uploader, run_jobs, client, htmx_headers, db):
    media_id = uploader.upload(camera_jpeg(size=(800, 600)))
    run_jobs()
    url = f"/admin/media/{media_id}/alt"
    saved = client.post(url, data={"alt_text": "  Ivory silk   scarf ", "csrf_token": uploader.csrf},
                        headers=htmx_headers)
    assert saved.status_code == 200 and f'id="media-item-{media_id}"' in saved.get_data(as_text=True)
    assert json.loads(saved.headers["HX-Trigger"])["toast"]["message"] == "Alt text saved."
    assert db.session.get(Media, media_id).alt_text == "Ivory silk scarf"

    refused = client.post(url, data={"alt_text": "x" * 301, "csrf_token": uploader.csrf}, headers=htmx_headers)
    assert refused.status_code == 422
    assert "Alt text must be 300 characters or fewer (this is 301)." in refused.get_data(as_text=True)

    plain = client.post(url, data={"alt_text": "Scarf, folded", "csrf_token": uploader.csrf,
                                   "next": f"/admin/products/{uploader.product.id}"})
    assert plain.status_code == 303 and plain.headers["Location"] == f"/admin/products/{uploader.product.id}"
    page = client.post(url, data={"alt_text": "y" * 400, "csrf_token": uploader.csrf})
    assert page.status_code == 422 and "<html" in page.get_data(as_text=True)
    assert "Alt text must be 300 characters or fewer" in page.get_data(as_text=True)
    offsite = client.post(url, data={"alt_text": "Scarf", "csrf_token": uploader.csrf, "next": "//evil.test/x"})
    assert offsite.headers["Location"] == f"/admin/products/{uploader.product.id}/media"
    assert actions(db).count("media.alt_text") == 3


def test_reorder_by_drag_and_by_buttons(uploader, run_jobs, client, htmx_headers, db):
    ids = [uploader.upload(camera_jpeg(size=(400, 300)), filename=f"{n}.jpg") for n in range(3)]
    url = f"/admin/products/{uploader.product.id}/media/order"

    def order():
        db.session.expire_all()
        return list(db.session.scalars(select(Media.id).where(Media.product_id == uploader.product.id)
                                       .order_by(Media.position)))

    dragged = client.post(url, data={"order": [str(i) for i in reversed(ids)], "csrf_token": uploader.csrf},
                          headers=htmx_headers)
    assert dragged.status_code == 200 and f'id="media-list-{uploader.product.id}"' in dragged.get_data(as_text=True)
    assert order() == list(reversed(ids))
    moved = client.post(url, data={"order": [str(i) for i in order()], "move": f"{ids[0]}:up",
                                   "csrf_token": uploader.csrf})
    assert moved.status_code == 303
    assert order() == [ids[2], ids[0], ids[1]]
    assert actions(db).count("media.reordered") == 2


def test_delete_with_htmx_answers_the_list_without_the_image(uploader, client, htmx_headers, db):
    media_id = uploader.upload(camera_jpeg(size=(400, 300)))
    response = client.post(f"/admin/media/{media_id}/delete", data={"csrf_token": uploader.csrf},
                           headers=htmx_headers)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="media-list-{uploader.product.id}"' in html and f"media-item-{media_id}" not in html
    assert "No images yet." in html
    assert actions(db)[-1] == "media.deleted"


def test_the_form_without_javascript_uploads_through_the_server(uploader, run_jobs, client, db):
    url = f"/admin/products/{uploader.product.id}/media"
    files = [(camera_jpeg(size=(900, 600)), "a.jpg"), (transparent_png((300, 200)), "b.png")]
    response = client.post(url, data={"csrf_token": uploader.csrf, "next": url,
                                      "file": [(io.BytesIO(data), name) for data, name in files]},
                           content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"] == url
    run_jobs()
    images = db.session.scalars(select(Media).order_by(Media.position)).all()
    assert [(m.filename, m.status, m.position) for m in images] == [("a.jpg", "ready", 0), ("b.png", "ready", 1)]

    refused = client.post(url, data={"csrf_token": uploader.csrf, "file": [(io.BytesIO(b"hi"), "notes.txt")]},
                          content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "notes.txt: only JPEG, PNG, WebP and AVIF images can be uploaded." in refused.get_data(as_text=True)


def test_a_file_without_a_type_is_taken_by_its_extension(uploader, db):
    response = uploader.presign("look.avif", "", 2048)
    assert response.status_code == 201
    assert db.session.get(Media, response.get_json()["media_id"]).content_type == "image/avif"
    assert uploader.presign("look.exe", "application/octet-stream", 10).status_code == 422


def test_an_object_larger_than_allowed_is_failed_and_removed_at_confirmation(app, uploader, db):
    from covet.media.storage import get_storage

    body = uploader.presign("big.jpg", "image/jpeg", 1000).get_json()
    key = db.session.get(Media, body["media_id"]).s3_key
    get_storage().put(key, b"\0" * (20 * 1024 * 1024 + 1), "image/jpeg")  # as if a PUT got past its limit
    confirmed = uploader.confirm(body["confirm_url"]).get_json()
    assert (confirmed["status"], confirmed["error"]) == ("failed", "The file is larger than 20 MB.")
    assert get_storage().head(key) is None
