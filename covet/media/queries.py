"""Read-only helpers for pages: a product's images in order, and the URLs of their renditions."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.extensions import db
from covet.media.models import Media
from covet.media.storage import UPLOAD_EXPIRES, get_storage

# A pending image older than this can no longer be uploaded (its presigned URL has long expired).
ABANDONED_AFTER = dt.timedelta(seconds=UPLOAD_EXPIRES * 3)


def product_images(product_id: int) -> list[Media]:
    """A product's images in display order."""
    return list(db.session.scalars(select(Media).where(Media.product_id == product_id)
                                   .order_by(Media.position, Media.id)))


def renditions_of(media: Media, fmt: str = "webp") -> dict[int, str]:
    """Width → key of one format's renditions ("800" is WebP, "800.avif" AVIF)."""
    found = {}
    for name, key in (media.renditions or {}).items():
        width, _, ext = name.partition(".")
        if width.isdigit() and (ext or "webp") == fmt:
            found[int(width)] = key
    return found


def image_url(media: Media, width: int = 800, fmt: str = "webp") -> str | None:
    """The URL of the smallest rendition at least `width` wide (else the largest), or None before ready."""
    found = renditions_of(media, fmt)
    if media.status != "ready" or not found:
        return None
    fitting = [w for w in found if w >= width]
    return get_storage().public_url(found[min(fitting) if fitting else max(found)])


def srcset(media: Media, fmt: str = "webp") -> str:
    """An <img srcset> value listing every rendition of a format with its width."""
    storage = get_storage()
    return ", ".join(f"{storage.public_url(key)} {width}w" for width, key in sorted(renditions_of(media, fmt).items()))


def upload_abandoned(media: Media) -> bool:
    """A pending image whose upload can no longer finish."""
    created = media.created_at if media.created_at.tzinfo else media.created_at.replace(tzinfo=dt.UTC)
    return media.status == "pending" and utcnow() - created > ABANDONED_AFTER
