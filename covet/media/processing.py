"""Uploaded original → web renditions: prove it is an image, orient it, drop its metadata, resize, encode.

Pure functions on bytes (no database, no storage), so the worker, the tests and the bench share them.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError, features

WIDTHS = (1600, 800, 320)
FORMATS = ("JPEG", "PNG", "WEBP", "AVIF")  # the only decoders Pillow may use on an upload
MAX_PIXELS = 50_000_000  # a 50 MP RGBA image is 200 MB decoded: more is refused before decoding
_TRANSPOSED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_BAD_IMAGE = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class ImageRejectedError(Exception):
    """The upload cannot become renditions; the message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    format: str  # "webp" or "avif": also the file extension
    data: bytes

    @property
    def name(self) -> str:
        """The key in Media.renditions: the width for WebP, "<width>.avif" for AVIF."""
        return str(self.width) if self.format == "webp" else f"{self.width}.{self.format}"

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"


@dataclass(frozen=True)
class Processed:
    width: int  # of the original, as displayed (after EXIF orientation)
    height: int
    renditions: list[Rendition]


def avif_available() -> bool:
    return bool(features.check("avif"))


def open_checked(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an upload lazily after checking its format, its pixel count and its structure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit below is lower
            probe = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageRejectedError(f"Image too large (over {max_pixels / 1e6:.0f} MP).") from exc
    except (UnidentifiedImageError, *_BAD_IMAGE) as exc:
        raise ImageRejectedError("Not an image: upload a JPEG, PNG, WebP or AVIF file.") from exc
    width, height = probe.size
    if width * height > max_pixels:
        raise ImageRejectedError(f"Image too large ({width * height / 1e6:.1f} MP, {width}×{height}); "
                            f"the limit is {max_pixels / 1e6:.0f} MP.")
    try:
        probe.verify()
    except _BAD_IMAGE as exc:
        raise ImageRejectedError("The image file is damaged and cannot be read.") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=FORMATS)  # verify() leaves the first one unusable


def make_renditions(data: bytes, widths=WIDTHS, max_pixels: int = MAX_PIXELS, avif: bool = False,
                    draft: bool = True) -> Processed:
    """Renditions `widths` wide (never upscaled) as WebP, and AVIF when asked; no EXIF, XMP or GPS kept."""
    image = open_checked(data, max_pixels)
    orientation = image.getexif().get(0x0112, 1)
    shown_width, shown_height = image.size[::-1] if orientation in _TRANSPOSED else image.size
    if draft:
        _draft(image, shown_width, max(widths))
    try:
        oriented = _web_mode(ImageOps.exif_transpose(image))  # decodes: a truncated file fails here
    except _BAD_IMAGE as exc:
        raise ImageRejectedError("The image file is damaged and cannot be decoded.") from exc
    icc = image.info.get("icc_profile") if oriented.mode in ("RGB", "RGBA") and image.mode != "CMYK" else None
    renditions, current = [], oriented
    for width in sorted({min(w, shown_width) for w in widths}, reverse=True):
        height = max(1, round(shown_height * width / shown_width))
        if current.size != (width, height):
            current = current.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        renditions.append(Rendition(width, height, "webp", _encode(current, "WEBP", icc, quality=82, method=4)))
        if avif:
            renditions.append(Rendition(width, height, "avif", _encode(current, "AVIF", icc, quality=60, speed=8)))
    return Processed(shown_width, shown_height, renditions)


def _draft(image: Image.Image, shown_width: int, largest: int) -> None:
    """JPEG only: let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at least `largest` wide."""
    if image.format != "JPEG" or shown_width <= largest:
        return
    scale = largest / shown_width
    width, height = image.size
    image.draft("RGB" if image.mode != "L" else "L", (math.ceil(width * scale), math.ceil(height * scale)))


def _web_mode(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency: what WebP and AVIF encode."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image.mode == ("RGBA" if has_alpha else "RGB"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale PNG: scale down to 8 bits first
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image, fmt: str, icc: bytes | None, **options) -> bytes:
    buffer = io.BytesIO()
    image.info = {}  # nothing from the original rides along: no EXIF (GPS), no XMP, no comments
    image.save(buffer, fmt, exif=b"", xmp=b"", icc_profile=icc or b"", **options)
    return buffer.getvalue()
