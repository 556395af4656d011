"""An upload link writes an original once: a second PUT never replaces the checked original (local disk and
S3 on moto), a refused image's original is deleted, and ids in a move are ASCII digits within range."""
import pytest

from covet.media import services
from covet.media.models import Media
from covet.media.services import MediaError
from covet.media.storage import get_storage
from covet.web.converters import MAX_ID
from tests.media.images import camera_jpeg


@pytest.fixture(params=["local", "s3"])
def backend(request, app):
    return request.getfixturevalue("s3") if request.param == "s3" else None


def _refused(response) -> bool:
    # Local disk: 409 from our endpoint. S3: 412 Precondition Failed, as `If-None-Match: *` is signed in.
    return response.status_code in (409, 412)


def test_a_second_put_after_confirmation_does_not_replace_the_checked_original(backend, uploader, db, run_jobs):
    photo = camera_jpeg(size=(800, 600))
    body = uploader.presign("photo.jpg", "image/jpeg", len(photo)).get_json()
    assert uploader.put(body["upload"], photo).status_code == 200
    assert uploader.confirm(body["confirm_url"]).get_json()["status"] == "processing"
    key = db.session.get(Media, body["media_id"]).s3_key

    swapped = b"\xff\xd8" + b"x" * (len(photo) - 2)  # same type and length, so the signature still fits
    assert _refused(uploader.put(body["upload"], swapped))
    assert get_storage().get(key) == photo
    run_jobs()
    assert db.session.get(Media, body["media_id"]).status == "ready"
    assert _refused(uploader.put(body["upload"], swapped))  # nor once processed
    assert get_storage().get(key) == photo


def test_a_second_put_before_confirmation_is_refused_too(backend, uploader, db):
    photo = camera_jpeg(size=(400, 300))
    body = uploader.presign("photo.jpg", "image/jpeg", len(photo)).get_json()
    assert uploader.put(body["upload"], photo).status_code == 200
    assert _refused(uploader.put(body["upload"], b"\0" * len(photo)))
    assert get_storage().get(db.session.get(Media, body["media_id"]).s3_key) == photo


def test_an_interrupted_put_can_be_sent_again(uploader, db):
    """Local disk: a short body writes nothing, so the same link still works."""
    photo = camera_jpeg(size=(400, 300))
    body = uploader.presign("photo.jpg", "image/jpeg", len(photo)).get_json()
    short = uploader.client.put(body["upload"]["url"], data=photo[:100],
                                headers={**body["upload"]["headers"], "Content-Length": str(len(photo))})
    assert short.status_code == 400
    assert uploader.put(body["upload"], photo).status_code == 200


def test_a_refused_images_original_is_deleted(backend, uploader, db, run_jobs):
    media_id = uploader.upload(b"%PDF-1.7 definitely not a photo" * 10, "image/jpeg", "invoice.jpg")
    key = db.session.get(Media, media_id).s3_key
    assert get_storage().head(key) is not None
    run_jobs()
    media = db.session.get(Media, media_id)
    assert media.status == "failed" and media.error.startswith("Not an image")  # the reason stays
    assert get_storage().head(key) is None


@pytest.mark.parametrize("move", ["²:up", "١:up", "1٢:down", "0:up", f"{MAX_ID + 1}:up", "9" * 40 + ":up",
                                  " 1:up", "+1:up", ":up", "1:sideways"])
def test_a_move_names_an_image_by_an_ascii_id_in_range(move):
    with pytest.raises(MediaError, match="Choose an image to move"):
        services._moved([1, 2], move)


def test_a_move_with_a_real_id_moves_it():
    assert services._moved([1, 2, 3], "3:up") == [1, 3, 2]
    assert services._moved([7, MAX_ID], f"{MAX_ID}:up") == [MAX_ID, 7]
