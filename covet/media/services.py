"""Product images: upload requests and confirmations, order, alt text, deletion; every change audited.

Callers (views) pass records they have already scoped to the actor's store; nothing here reads the request.
"""
from __future__ import annotations

import uuid
from typing import BinaryIO

from sqlalchemy import func, select, update

from covet.audit.services import Actor, record
from covet.catalog.models import Product
from covet.extensions import db
from covet.jobs import enqueue
from covet.media.models import Media
from covet.media.queries import product_images
from covet.media.storage import get_storage
from covet.storefront.cache import request_invalidation
from covet.web.converters import MAX_ID

ALLOWED_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/avif": "avif"}
_BY_EXTENSION = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "avif": "image/avif"}
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ALT_TEXT_MAX = 300


class MediaError(Exception):
    """A request the user has to fix (answered with 422); the message says how."""


def check_upload(filename: str, content_type: str | None, size: int | None) -> str:
    """Refuse anything but a JPEG, PNG, WebP or AVIF of at most 20 MB; return its normalised type."""
    name = (filename or "The file").strip()[:120]
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("", "application/octet-stream"):  # some systems give no type for .avif or .webp files
        kind = _BY_EXTENSION.get(name.rpartition(".")[2].lower(), kind)
    if kind not in ALLOWED_TYPES:
        raise MediaError(f"{name}: only JPEG, PNG, WebP and AVIF images can be uploaded.")
    if not isinstance(size, int) or size <= 0:
        raise MediaError(f"{name} is empty.")
    if size > MAX_UPLOAD_BYTES:
        raise MediaError(f"{name} is {size / 1024 / 1024:.1f} MB; images must be 20 MB or smaller.")
    return kind


def _new_media(product: Product, filename: str, content_type: str, size: int) -> Media:
    last = db.session.scalar(select(func.max(Media.position)).where(Media.product_id == product.id))
    key = f"products/{product.id}/{uuid.uuid4().hex}/original.{ALLOWED_TYPES[content_type]}"
    return Media(store_id=product.store_id, product_id=product.id, s3_key=key, filename=(filename or "")[:255],
                 content_type=content_type, byte_size=size, status="pending", alt_text="",
                 position=0 if last is None else last + 1)


def request_upload(product: Product, filename: str, content_type: str | None, size: int | None,
                   actor: Actor) -> tuple[Media, dict]:
    """Record a pending image and presign the browser's PUT of its original."""
    kind = check_upload(filename, content_type, size)
    media = _new_media(product, filename, kind, size)
    db.session.add(media)
    db.session.commit()
    return media, get_storage().presign_upload(media.s3_key, kind, size)


def accepts_upload(key: str) -> bool:
    """An original may be written only while its image waits for it: never once checked, processed or failed."""
    return db.session.scalar(select(Media.id).where(Media.s3_key == key, Media.status == "pending")) is not None


def confirm_upload(media: Media, actor: Actor) -> Media:
    """Check the original reached storage and queue its renditions; a repeated confirmation changes nothing."""
    from covet.media.jobs import process_image

    if media.status != "pending":
        return media
    found = get_storage().head(media.s3_key)
    if found is None:
        raise MediaError("The file did not reach storage. Upload it again.")
    too_large = found.size > MAX_UPLOAD_BYTES
    # Only the confirmation that moves the row out of `pending` queues work: two at once queue it once.
    moved = db.session.execute(update(Media).where(Media.id == media.id, Media.status == "pending").values(
        status="failed" if too_large else "processing", byte_size=found.size,
        error="The file is larger than 20 MB." if too_large else None)).rowcount
    db.session.refresh(media)
    if not moved:
        return media
    if not too_large:
        enqueue(process_image, media.id)
    record(actor, "media.uploaded", "media", media.id, after=_facts(media), store_id=media.store_id)
    db.session.commit()
    if too_large:
        get_storage().delete([media.s3_key])
    return media


def upload_through_server(product: Product, filename: str, content_type: str | None, stream: BinaryIO,
                          size: int, actor: Actor) -> Media:
    """Store an original posted to us (the no-JavaScript form) and queue its renditions."""
    from covet.media.jobs import process_image

    kind = check_upload(filename, content_type, size)
    media = _new_media(product, filename, kind, size)
    get_storage().put(media.s3_key, stream.read(MAX_UPLOAD_BYTES + 1), kind, cache_control="private, no-store")
    media.status = "processing"
    db.session.add(media)
    db.session.flush()
    record(actor, "media.uploaded", "media", media.id, after=_facts(media), store_id=media.store_id)
    enqueue(process_image, media.id)
    db.session.commit()
    return media


def reorder(product: Product, ordered_ids: list[int], actor: Actor, move: str | None = None) -> list[Media]:
    """Put the product's images in the given order (ids not listed keep their turn after); `move` is "id:up|down"."""
    items = product_images(product.id)
    by_id = {item.id: item for item in items}
    order = [i for i in dict.fromkeys(ordered_ids) if i in by_id]
    order += [item.id for item in items if item.id not in order]
    if move:
        order = _moved(order, move)
    before = [item.id for item in items]
    if order == before:
        return items
    for position, media_id in enumerate(order):
        by_id[media_id].position = position
    record(actor, "media.reordered", "product", product.id, before={"images": before}, after={"images": order},
           store_id=product.store_id)
    request_invalidation([f"product:{product.id}"])
    db.session.commit()
    return [by_id[i] for i in order]


def _id_from(text: str) -> int | None:
    """An id typed into a form: ASCII digits only, 1..MAX_ID (not '²', '١٢' or a 30-digit number)."""
    if not (0 < len(text) <= len(str(MAX_ID)) and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _moved(order: list[int], move: str) -> list[int]:
    text, _, direction = move.partition(":")
    media_id = _id_from(text)
    if media_id is None or media_id not in order or direction not in ("up", "down"):
        raise MediaError("Choose an image to move up or down.")
    index = order.index(media_id)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
    return order


def set_alt_text(media: Media, alt_text: str, actor: Actor) -> Media:
    """Describe the image for screen readers and search engines."""
    text = " ".join((alt_text or "").split())
    if len(text) > ALT_TEXT_MAX:
        raise MediaError(f"Alt text must be {ALT_TEXT_MAX} characters or fewer (this is {len(text)}).")
    if text == media.alt_text:
        return media
    record(actor, "media.alt_text", "media", media.id, before={"alt_text": media.alt_text},
           after={"alt_text": text}, store_id=media.store_id)
    media.alt_text = text
    request_invalidation([f"product:{media.product_id}"])
    db.session.commit()
    return media


def delete_media(media: Media, actor: Actor) -> None:
    """Delete an image; its stored files go once the deletion has committed."""
    from covet.media.jobs import delete_stored_objects

    keys = [media.s3_key, *sorted(set((media.renditions or {}).values()))]
    record(actor, "media.deleted", "media", media.id, before=_facts(media), store_id=media.store_id)
    request_invalidation([f"product:{media.product_id}"])
    db.session.delete(media)
    enqueue(delete_stored_objects, *keys)
    db.session.commit()


def _facts(media: Media) -> dict:
    return {"product_id": media.product_id, "filename": media.filename, "s3_key": media.s3_key,
            "status": media.status, "byte_size": media.byte_size}
