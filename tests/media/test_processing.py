"""The worker turns real uploads into renditions: on S3 (moto, SSE-KMS) and on local disk, through a real
RQ SimpleWorker (REDIS_URL set) or the in-process job thread (embedded mode)."""
import io

import pytest
from PIL import Image

from covet.media import pipeline
from covet.media.models import Media
from covet.media.storage import IMMUTABLE, get_storage
from tests.media.images import camera_jpeg, has_location, png_header_claiming, transparent_png


@pytest.fixture(params=["local", "s3"])
def backend(request, app):
    """Each test runs against local disk and against S3 on moto."""
    return request.getfixturevalue("s3") if request.param == "s3" else None


def stored(key: str) -> bytes:
    return get_storage().get(key)


def test_a_camera_jpeg_becomes_oriented_webp_and_avif_renditions_without_its_location(
        backend, uploader, run_jobs, db):
    original = camera_jpeg(size=(2400, 1800), orientation=6)
    assert has_location(original)
    media_id = uploader.upload(original)
    assert db.session.get(Media, media_id).status == "processing"
    run_jobs()

    media = db.session.get(Media, media_id)
    assert (media.status, media.error) == ("ready", None)
    assert (media.width, media.height) == (1800, 2400)  # EXIF orientation 6 applied
    assert sorted(k for k in media.renditions if "." not in k) == ["1600", "320", "800"]
    for name, key in media.renditions.items():
        image = Image.open(io.BytesIO(stored(key)))
        width = int(name.split(".")[0])
        assert image.format == ("AVIF" if name.endswith(".avif") else "WEBP")
        assert image.size == (width, round(2400 * width / 1800))  # portrait, as displayed
        assert not image.getexif() and not has_location(stored(key))
    if backend:
        head = backend.client.head_object(Bucket=backend.bucket, Key=media.renditions["800"])
        assert head["CacheControl"] == IMMUTABLE
        assert (head["ContentType"], head["ServerSideEncryption"]) == ("image/webp", "aws:kms")


def test_a_transparent_png_keeps_its_alpha_and_is_never_upscaled(backend, uploader, run_jobs, db):
    media_id = uploader.upload(transparent_png((600, 400)), "image/png", "logo.png")
    run_jobs()
    media = db.session.get(Media, media_id)
    assert media.status == "ready", media.error
    assert sorted(k for k in media.renditions if "." not in k) == ["320", "600"]  # 1600 and 800 would upscale
    image = Image.open(io.BytesIO(stored(media.renditions["600"])))
    assert (image.mode, image.size) == ("RGBA", (600, 400))
    assert image.getpixel((5, 5))[3] == 0  # the transparent border survived


def test_bytes_that_are_not_an_image_fail_with_a_clear_reason(backend, uploader, run_jobs, db):
    media_id = uploader.upload(b"%PDF-1.7 definitely not a photo" * 10, "image/jpeg", "invoice.jpg")
    run_jobs()
    media = db.session.get(Media, media_id)
    assert media.status == "failed"
    assert media.error == "Not an image: upload a JPEG, PNG, WebP or AVIF file."
    assert media.renditions == {}


def test_a_decompression_bomb_is_refused_before_decoding(backend, uploader, run_jobs, db):
    media_id = uploader.upload(png_header_claiming(10_000, 10_000), "image/png", "bomb.png")
    run_jobs()
    media = db.session.get(Media, media_id)
    assert media.status == "failed"
    assert media.error == "Image too large (100.0 MP, 10000×10000); the limit is 50 MP."


def test_a_far_larger_bomb_is_refused_by_pillows_own_guard_too(app, uploader, run_jobs, db):
    media_id = uploader.upload(png_header_claiming(40_000, 40_000), "image/png", "bomb.png")
    run_jobs()
    assert db.session.get(Media, media_id).error == "Image too large (over 50 MP)."


def test_the_pixel_limit_is_configurable(app, uploader, run_jobs, db):
    app.config["MEDIA_MAX_PIXELS"] = 1_000_000
    media_id = uploader.upload(camera_jpeg(size=(1600, 1200)))
    run_jobs()
    assert db.session.get(Media, media_id).error == "Image too large (1.9 MP, 1600×1200); the limit is 1 MP."


def test_a_truncated_jpeg_fails_as_damaged(app, uploader, run_jobs, db):
    media_id = uploader.upload(camera_jpeg()[:4000])
    run_jobs()
    media = db.session.get(Media, media_id)
    assert media.status == "failed" and "damaged" in media.error


def test_processing_again_changes_nothing_once_ready(backend, uploader, run_jobs, db):
    media_id = uploader.upload(camera_jpeg(size=(1000, 800), orientation=1))
    run_jobs()
    ready = db.session.get(Media, media_id)
    before = (ready.renditions, ready.updated_at)
    assert pipeline.process_media(media_id) == "skipped"
    db.session.expire_all()
    assert (db.session.get(Media, media_id).renditions, db.session.get(Media, media_id).updated_at) == before
    assert pipeline.process_media(999_999) == "skipped"  # deleted meanwhile: nothing to do


def test_deleting_an_image_removes_its_stored_files(backend, uploader, run_jobs, db, client):
    media_id = uploader.upload(camera_jpeg(size=(1000, 800), orientation=1))
    run_jobs()
    keys = [db.session.get(Media, media_id).s3_key, *db.session.get(Media, media_id).renditions.values()]
    assert all(get_storage().head(key) for key in keys)
    response = client.post(f"/admin/media/{media_id}/delete", data={"csrf_token": uploader.csrf})
    assert response.status_code == 303
    run_jobs()
    assert db.session.get(Media, media_id) is None
    assert not any(get_storage().head(key) for key in keys)
    if backend:
        assert backend.object_keys() == []


@pytest.mark.parametrize(("fmt", "mime"), [("WEBP", "image/webp"), ("AVIF", "image/avif")])
def test_webp_and_avif_originals_are_accepted(app, uploader, run_jobs, db, fmt, mime):
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 500), (120, 80, 40)).save(buffer, fmt)
    media_id = uploader.upload(buffer.getvalue(), mime, f"look.{fmt.lower()}")
    run_jobs()
    media = db.session.get(Media, media_id)
    assert (media.status, media.width, media.height) == ("ready", 1000, 500), media.error
    assert media.s3_key.endswith(f"/original.{fmt.lower()}")
