"""The worker's side of an image: fetch the original, make the renditions, store and record them."""
from __future__ import annotations

import posixpath
import re

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from covet.extensions import db
from covet.jobs import enqueue
from covet.media.models import Media
from covet.media.processing import MAX_PIXELS, WIDTHS, ImageRejectedError, Processed, avif_available, make_renditions
from covet.media.storage import StorageError, get_storage
from covet.observability import get_logger
from covet.storefront.cache import request_invalidation

log = get_logger("covet.media")
# products/<product id>/<32 hex>/original.<ext>: one folder per upload, so the folder can go as a whole.
_UPLOAD_FOLDER = re.compile(r"^(products/\d+/[0-9a-f]{32}/)original\.[a-z]+$")


def process_media(media_id: int) -> str:
    """Make and record one image's renditions; a ready or deleted image is left alone (idempotent)."""
    media = db.session.get(Media, media_id)
    if media is None or media.status == "ready":
        return "skipped"
    original, storage, cfg = media.s3_key, get_storage(), current_app.config
    _set_state(media_id, "processing", None)
    try:
        processed = make_renditions(storage.get(original), widths=cfg.get("MEDIA_WIDTHS", WIDTHS),
                                    max_pixels=cfg.get("MEDIA_MAX_PIXELS", MAX_PIXELS),
                                    avif=cfg.get("MEDIA_AVIF", True) and avif_available())
        keys = _store(storage, original, processed)
    except ImageRejectedError as exc:
        _discard_original(original)  # not an image we keep: the file goes, the row keeps the reason
        _set_state(media_id, "failed", str(exc))
        log.info("media_rejected", extra={"media_id": media_id, "reason": str(exc)})
        return "failed"
    except StorageError as exc:
        _set_state(media_id, "failed", f"Storage problem: {exc} The worker retries a few times.")
        raise  # transient: the job's retry runs it again
    return _finish(media_id, processed, keys, storage)


def _store(storage, original: str, processed: Processed) -> dict[str, str]:
    """Write every rendition next to the original, cached for a year (keys never change)."""
    folder = posixpath.dirname(original)
    keys = {}
    for rendition in processed.renditions:
        key = f"{folder}/{rendition.width}.{rendition.format}"
        storage.put(key, rendition.data, rendition.content_type)
        keys[rendition.name] = key
    return keys


def _finish(media_id: int, processed: Processed, keys: dict[str, str], storage) -> str:
    db.session.expire_all()
    media = db.session.get(Media, media_id)
    try:
        if media is None:
            raise StaleDataError("deleted while processing")
        media.status, media.error, media.renditions = "ready", None, keys
        media.width, media.height = processed.width, processed.height
        request_invalidation([f"product:{media.product_id}"])
        db.session.commit()
    except StaleDataError:  # deleted meanwhile: its cleanup may have run before these files existed
        db.session.rollback()
        storage.delete(sorted(keys.values()))
        return "deleted"
    log.info("media_ready", extra={"media_id": media_id, "renditions": len(keys)})
    return "ready"


def _discard_original(original: str) -> None:
    """Remove a refused upload's folder (original, any renditions) after the commit, with the job's retries."""
    from covet.media.jobs import delete_stored_objects

    enqueue(delete_stored_objects, original)


def _set_state(media_id: int, status: str, error: str | None) -> None:
    media = db.session.get(Media, media_id)
    if media is not None:
        media.status, media.error = status, error[:500] if error else None
        db.session.commit()


def delete_objects(keys: tuple[str, ...]) -> int:
    """Remove stored files; an upload's own folder goes whole (renditions a failed run left included)."""
    storage = get_storage()
    folders = {match.group(1) for key in keys if (match := _UPLOAD_FOLDER.match(key))}
    loose = [key for key in keys if not any(key.startswith(folder) for folder in folders)]
    for folder in sorted(folders):
        storage.delete_prefix(folder)
    if loose:
        storage.delete(loose)
    return len(keys)
